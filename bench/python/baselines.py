#!/usr/bin/env python3
"""Python baselines for the wpool benchmark harness (standard library only;
aiohttp is used by the ``fetch`` workload when it happens to be importable).

Usage::

    python3 baselines.py WORKLOAD --executor EXEC --workers N [--rounds R] [options]

WORKLOAD   heavy | tiny | sha256 | fetch
EXEC       thread | process | interpreter | sequential   (fetch: asyncio | thread | sequential)

The executor is created once, before anything is timed, and warmed up (see
``startup_seconds``); then the workload runs R times (``--rounds``, default 1)
and exactly one JSON object is printed on stdout::

    {"workload": "sha256", "executor": "process", "workers": 2,
     "python": "3.11.7", "seconds": [t1, ..., tR], "startup_seconds": s,
     "check": <value>, "note": "..."}

``seconds``          wall time of each round, ``time.perf_counter()``.
``startup_seconds``  executor creation plus warm-up: batches of N tasks that
                     each sleep 10 ms are submitted until N distinct workers
                     (pid, thread id) have answered, so every worker is started
                     (and, for ``interpreter``, has loaded this module) before
                     timing.  0.0 for ``sequential``.
``check``            workload-defined value for a correctness check (below);
                     it is the value of the last round.

Exit status: 0 success; 2 error or invalid arguments (message on stderr);
3 "not available here" (e.g. ``--executor interpreter`` on a Python without
``concurrent.futures.InterpreterPoolExecutor``, i.e. before 3.14); the caller
should report the combination as skipped.

Workloads
---------
heavy   ``heavy_calc(n)`` for every n of ``--n`` (default
        50000000,60000000,70000000,80000000) via ``executor.map``.
        ``heavy_calc(n) = sum(i*i % 7 for i in range(n))`` (plain for loop);
        e.g. heavy_calc(10) == 19.
        check = list of the results, in input order.

tiny    ``--count`` (default 10000) tasks ``heavy_calc(1)``, each submitted
        individually with ``executor.submit``; then all results are gathered.
        check = sum of the results (== 0, as heavy_calc(1) == 0).

sha256  ``--count`` (default 1000) payloads of ``--size`` (default 65536) bytes,
        generated before timing; task i = ``hashlib.sha256(payload_i).hexdigest()``
        via ``executor.map`` (for ``process``/``interpreter`` the payload is
        pickled to the worker -- part of what Python pays).
        Payload formula (i = 0 .. count-1, j = 0 .. size-1)::

            payload_i[j] = (i + j) % 251          # one byte each

        i.e. bytes((i + j) % 251 for j in range(size)).
        check = sha256 hex (lowercase) of the ASCII concatenation of all the
        lowercase hex digests in input order:
        ``sha256("".join(hexdigest(payload_i) for i in range(count)).encode())``.

fetch   download every URL of ``--urls-file`` (one per line; blank lines and
        lines starting with '#' are ignored) and SHA-256 each body.
        ``--executor asyncio`` (the seed's program): aiohttp if importable,
          else ``urllib.request`` in threads via ``asyncio.to_thread`` (the loop's
          default executor is a ThreadPoolExecutor of ``--concurrency`` threads);
          at most ``--concurrency`` (default 32) downloads in flight (a
          Semaphore); each body is hashed as soon as it arrives according to
          ``--hash-in``: ``process`` (default; ``loop.run_in_executor`` on a
          ProcessPoolExecutor(N)), ``thread`` (ThreadPoolExecutor(N); hashlib
          releases the GIL for big inputs), ``interpreter``
          (InterpreterPoolExecutor(N), Python 3.14: the seed's own program) or
          ``inline`` (in the event loop).
        ``--executor thread``: ThreadPoolExecutor(--concurrency) of urllib
          tasks, each fetching and hashing one URL.
        ``--executor sequential``: plain loop, urllib fetch then hash.
        ``--fetch-only``: download only, no hashing.
        check = as for sha256: sha256 hex of the concatenated hex digests of
        the bodies in URL-file order; with ``--fetch-only``: total number of
        body bytes downloaded (an integer).
        Proxies from the environment are ignored (urllib and aiohttp both).
"""

import argparse
import hashlib
import json
import os
import platform
import sys
import threading
import time
import concurrent.futures as cf

EXIT_ERROR = 2
EXIT_UNAVAILABLE = 3


# --------------------------------------------------------------------------
# Task functions: module level, so they pickle (processes) and can be
# re-imported in sub-interpreters.  Keep them free of global state.
# --------------------------------------------------------------------------

def heavy_calc(n):
    """sum(i*i % 7 for i in range(n)), as a plain loop."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def sha256hex(data):
    return hashlib.sha256(data).hexdigest()


def warm(delay):
    """Warm-up task: identifies the worker that ran it."""
    time.sleep(delay)
    return (os.getpid(), threading.get_ident())


def combine_digests(digests):
    return hashlib.sha256("".join(digests).encode("ascii")).hexdigest()


def make_payloads(count, size):
    """payload_i[j] = (i + j) % 251, for i < count, j < size."""
    reps = (size + 251) // 251 + 1
    base = bytes(range(251)) * reps  # len >= size + 251
    return [base[i % 251: i % 251 + size] for i in range(count)]


# --------------------------------------------------------------------------

class Unavailable(Exception):
    """The requested executor does not exist on this Python (exit 3)."""


class UsageError(Exception):
    """Invalid combination of options (exit 2)."""


class Sequential(object):
    """Stand-in for "no pool": the workload code calls fn directly."""


def make_pool(kind, workers, mp_context=None):
    if kind == "thread":
        return cf.ThreadPoolExecutor(max_workers=workers)
    if kind == "process":
        ctx = None
        if mp_context:
            import multiprocessing
            ctx = multiprocessing.get_context(mp_context)
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    if kind == "interpreter":
        ipe = getattr(cf, "InterpreterPoolExecutor", None)
        if ipe is None:
            raise Unavailable(
                "executor 'interpreter' is not available: "
                "concurrent.futures.InterpreterPoolExecutor needs Python 3.14+, "
                "this is Python %s" % platform.python_version())
        return ipe(max_workers=workers)
    raise UsageError("unknown executor %r" % kind)


def warm_up(pool, workers, delay=0.01, max_batches=100):
    """Submit batches of `workers` sleeping tasks until `workers` distinct
    workers have answered.  Returns the number of distinct workers seen."""
    seen = set()
    for _ in range(max_batches):
        futs = [pool.submit(warm, delay) for _ in range(workers)]
        for f in futs:
            seen.add(f.result())
        if len(seen) >= workers:
            break
    return len(seen)


def start_pool(kind, workers, mp_context=None, warm=True):
    """Create and (unless `warm` is false) warm up a pool.  Returns (pool,
    startup_seconds, note)."""
    t0 = time.perf_counter()
    pool = make_pool(kind, workers, mp_context)
    if warm:
        started = warm_up(pool, workers)
        note = "%d/%d workers warm" % (started, workers)
    else:
        note = "not warmed up"
    startup = time.perf_counter() - t0
    if kind == "process":
        import multiprocessing
        note += ", start method %s" % (
            mp_context or multiprocessing.get_start_method())
    return pool, startup, note


# ------------------------------ workloads ---------------------------------

def run_heavy(pool, args):
    ns = args.n_list
    if pool is None:
        return [heavy_calc(n) for n in ns]
    return list(pool.map(heavy_calc, ns))


def run_tiny(pool, args):
    if pool is None:
        return sum(heavy_calc(1) for _ in range(args.count))
    futs = [pool.submit(heavy_calc, 1) for _ in range(args.count)]
    return sum(f.result() for f in futs)


def run_sha256(pool, args):
    payloads = args.payloads
    if pool is None:
        digests = [sha256hex(p) for p in payloads]
    else:
        digests = list(pool.map(sha256hex, payloads))
    return combine_digests(digests)


def run_compute(args):
    runner = {"heavy": run_heavy, "tiny": run_tiny, "sha256": run_sha256}[args.workload]
    notes = []
    if args.workload == "sha256":
        args.payloads = make_payloads(args.count, args.size)
        notes.append("payload_i[j] = (i + j) %% 251, %d x %d bytes" % (args.count, args.size))
    if args.executor == "asyncio":
        raise UsageError("executor 'asyncio' is only for the fetch workload")
    if args.executor == "sequential":
        pool, startup = None, 0.0
        notes.insert(0, "plain loop in the main thread")
    else:
        pool, startup, note = start_pool(args.executor, args.workers, args.mp_context)
        notes.insert(0, note)
    try:
        seconds = []
        check = None
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            check = runner(pool, args)
            seconds.append(time.perf_counter() - t0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return seconds, startup, check, "; ".join(notes)


# -------------------------------- fetch -----------------------------------

_URLLIB_OPENER = None


def fetch_urllib(url, timeout=60.0):
    global _URLLIB_OPENER
    import urllib.request
    if _URLLIB_OPENER is None:
        # Ignore http_proxy & co: the server is on loopback.
        _URLLIB_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with _URLLIB_OPENER.open(url, timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        if status != 200:
            raise IOError("GET %s: HTTP %s" % (url, status))
        return resp.read()


def fetch_and_hash(url, fetch_only):
    body = fetch_urllib(url)
    return len(body) if fetch_only else sha256hex(body)


def fetch_check(results, fetch_only):
    return sum(results) if fetch_only else combine_digests(results)


def read_urls(path):
    with open(path, "r") as f:
        urls = [line.strip() for line in f]
    urls = [u for u in urls if u and not u.startswith("#")]
    if not urls:
        raise UsageError("no URLs in %s" % path)
    return urls


def run_fetch(args):
    if not args.urls_file:
        raise UsageError("fetch needs --urls-file PATH")
    urls = read_urls(args.urls_file)
    fetch_only = args.fetch_only
    if args.executor == "asyncio":
        return run_fetch_asyncio(args, urls)
    if args.executor in ("process", "interpreter"):
        raise UsageError(
            "fetch supports --executor asyncio|thread|sequential; for hashing in "
            "processes use --executor asyncio --hash-in process")
    what = "download only" if fetch_only else "download + sha256"
    if args.executor == "sequential":
        pool, startup = None, 0.0
        note = "sequential urllib loop, %s" % what
    else:  # thread
        pool, startup, wnote = start_pool("thread", args.concurrency)
        note = ("ThreadPoolExecutor(%d = --concurrency) of urllib tasks, %s; %s"
                % (args.concurrency, what, wnote))
    try:
        seconds, check = [], None
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            if pool is None:
                results = [fetch_and_hash(u, fetch_only) for u in urls]
            else:
                futs = [pool.submit(fetch_and_hash, u, fetch_only) for u in urls]
                results = [f.result() for f in futs]
            check = fetch_check(results, fetch_only)
            seconds.append(time.perf_counter() - t0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return seconds, startup, check, note + "; %d URLs" % len(urls)


def run_fetch_asyncio(args, urls):
    import asyncio
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        aiohttp = None
    fetch_only = args.fetch_only
    hash_in = args.hash_in
    conc = args.concurrency

    async def main():
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        notes = []
        hash_pool = None
        if not fetch_only and hash_in in ("process", "thread", "interpreter"):
            hash_pool, _, wnote = start_pool(
                hash_in, args.workers, args.mp_context, warm=not args.no_warm_up)
            notes.append("hash pool %s(%d): %s" % (hash_in, args.workers, wnote))
        io_pool = None
        session = None
        if aiohttp is not None:
            client = "aiohttp"
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=conc), trust_env=False)
        else:
            client = "urllib in threads"
            io_pool = cf.ThreadPoolExecutor(max_workers=conc, thread_name_prefix="fetch")
            loop.set_default_executor(io_pool)
            warm_up(io_pool, conc, delay=0.002)
        startup = time.perf_counter() - t0
        sem = asyncio.Semaphore(conc)

        async def get(url):
            async with sem:
                if session is not None:
                    async with session.get(url) as resp:
                        resp.raise_for_status()
                        return await resp.read()
                if hasattr(asyncio, "to_thread"):
                    return await asyncio.to_thread(fetch_urllib, url)
                return await loop.run_in_executor(None, fetch_urllib, url)

        async def one(url):
            body = await get(url)
            if fetch_only:
                return len(body)
            if hash_pool is None:  # inline
                return sha256hex(body)
            return await loop.run_in_executor(hash_pool, sha256hex, body)

        seconds, check = [], None
        try:
            for _ in range(args.rounds):
                r0 = time.perf_counter()
                results = await asyncio.gather(*(one(u) for u in urls))
                check = fetch_check(results, fetch_only)
                seconds.append(time.perf_counter() - r0)
        finally:
            if session is not None:
                await session.close()
            if hash_pool is not None:
                hash_pool.shutdown(wait=True)
        what = "download only" if fetch_only else "hash in %s" % hash_in
        note = "client: %s; concurrency %d; %s; %d URLs" % (client, conc, what, len(urls))
        if notes:
            note += "; " + "; ".join(notes)
        return seconds, startup, check, note

    # One event loop for all rounds, so pools and connections are set up once.
    return asyncio.run(main())


# --------------------------------- main -----------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Python baselines for the wpool bench; prints one JSON object.")
    p.add_argument("workload", choices=["heavy", "tiny", "sha256", "fetch"])
    p.add_argument("--executor", required=True,
                   choices=["thread", "process", "interpreter", "sequential", "asyncio"])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--mp-context", choices=["fork", "spawn", "forkserver"], default=None,
                   help="multiprocessing start method for process pools "
                        "(default: the platform's)")
    p.add_argument("--n", default="50000000,60000000,70000000,80000000",
                   help="heavy: comma-separated list of n")
    p.add_argument("--count", type=int, default=None,
                   help="tiny: number of tasks (default 10000); "
                        "sha256: number of payloads (default 1000)")
    p.add_argument("--size", type=int, default=65536, help="sha256: payload size in bytes")
    p.add_argument("--urls-file", default=None, help="fetch: file with one URL per line")
    p.add_argument("--concurrency", type=int, default=32,
                   help="fetch: maximum downloads in flight")
    p.add_argument("--hash-in", choices=["process", "thread", "interpreter", "inline"],
                   default="process",
                   help="fetch --executor asyncio: where bodies are hashed")
    p.add_argument("--fetch-only", action="store_true", help="fetch: download only")
    p.add_argument("--no-warm-up", action="store_true",
                   help="fetch --executor asyncio: do not warm the hash pool up, as the "
                        "seed's program does not (for timing the whole process)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    if args.concurrency < 1:
        p.error("--concurrency must be >= 1")
    if args.size < 0:
        p.error("--size must be >= 0")
    if args.count is None:
        args.count = 10000 if args.workload == "tiny" else 1000
    if args.count < 0:
        p.error("--count must be >= 0")
    try:
        args.n_list = [int(x) for x in args.n.split(",") if x.strip()]
    except ValueError:
        p.error("--n must be a comma-separated list of integers")
    if args.executor == "asyncio" and args.workload != "fetch":
        p.error("--executor asyncio is only for the fetch workload")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.workload == "fetch":
            seconds, startup, check, note = run_fetch(args)
        else:
            seconds, startup, check, note = run_compute(args)
    except Unavailable as e:
        print("baselines.py: %s" % e, file=sys.stderr)
        return EXIT_UNAVAILABLE
    except UsageError as e:
        print("baselines.py: %s" % e, file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - report anything as exit 2
        import traceback
        traceback.print_exc()
        print("baselines.py: %s failed: %s: %s" % (args.workload, type(e).__name__, e),
              file=sys.stderr)
        return EXIT_ERROR
    out = {
        "workload": args.workload,
        "executor": args.executor,
        "workers": args.workers,
        "python": platform.python_version(),
        "seconds": seconds,
        "startup_seconds": startup,
        "check": check,
        "note": note,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
