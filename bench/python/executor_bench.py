"""wpool's WasmPoolExecutor next to Python's own executors, in one run.

    python executor_bench.py [--quick] [--workers N] [--only heavy,tiny,fetch]

Needs the `wpool` package importable (bench/python/run.sh installs it) and,
for the interpreter pool, Python 3.14. Three workloads, each timed after its
pools are started and warm:

heavy  the seed's program 2: ``ex.map(heavy_calc, [50M, 60M, 70M, 80M])``;
       WasmPoolExecutor (the built-in guest) vs InterpreterPoolExecutor and
       ProcessPoolExecutor (the plain-Python loop of baselines.py).
tiny   10,000 ``submit(heavy_calc, 1)`` then every result, and the same
       calls through ``map``: tasks per second;
       beside it, 10,000 plain Futures made, set and read in one thread.
fetch  the seed's program 1 on loopback: 1,000 bodies of 16 KiB to 1 MiB
       from an HTTP server in another process, fetched with asyncio (aiohttp
       when installed, else urllib in threads), each hashed as it arrives by
       ``loop.run_in_executor(ex, sha256, body)``; plus fetching alone.

Prints a table and, on the last line, one JSON object with every figure.
`--quick` divides the inputs by 10 (for a smoke run).
"""

import argparse
import asyncio
import concurrent.futures as cf
import hashlib
import http.server
import json
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402  (same folder: the Python side of every workload)

import wpool  # noqa: E402

PATTERN = bytes((j * 7 + 3) % 251 for j in range(1 << 20))


def body(i):
    """Body i: 16 KiB to 1 MiB, starting with its own number."""
    size = 16 * 1024 + (i * 104_729) % (1024 * 1024 - 16 * 1024)
    return i.to_bytes(4, "big") + PATTERN[: size - 4]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        data = body(int(self.path.rsplit("/", 1)[-1]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def timed(fn, rounds):
    best = None
    result = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def python_pools(workers):
    kinds = ["process"]
    if hasattr(cf, "InterpreterPoolExecutor"):
        kinds.insert(0, "interpreter")
    for kind in kinds:
        pool, _, _ = baselines.start_pool(kind, workers)
        yield kind, pool


def bench_heavy(args, out):
    ns = [n // args.scale for n in (50_000_000, 60_000_000, 70_000_000, 80_000_000)]
    calc = wpool.guest("heavy_calc")
    with wpool.WasmPoolExecutor(args.workers) as ex:
        ex.preload(calc)
        wasm, expected = timed(lambda: list(ex.map(calc.heavy_calc, ns)), 3)
    out["heavy"] = {"wasm_s": wasm}
    print(f"heavy   wasm        {wasm:8.3f} s")
    for kind, pool in python_pools(args.workers):
        with pool:
            seconds, got = timed(lambda: list(pool.map(baselines.heavy_calc, ns)), 1)
        assert got == expected, (kind, got, expected)
        out["heavy"][kind + "_s"] = seconds
        print(f"heavy   {kind:11} {seconds:8.3f} s   wasm is {seconds / wasm:6.1f}x faster")


def bench_tiny(args, out):
    count = 10_000 // args.scale
    calc = wpool.guest("heavy_calc")

    def run(ex, fn):
        futures = [ex.submit(fn, 1) for _ in range(count)]
        return sum(f.result() for f in futures)

    with wpool.WasmPoolExecutor(args.workers) as ex:
        ex.preload(calc)
        run(ex, calc.heavy_calc)  # warm every worker's instance
        cpu0 = os.times()
        wasm, _ = timed(lambda: run(ex, calc.heavy_calc), 3)
        cpu1 = os.times()
    # Process CPU (every thread: Python, completer, workers) per task, over
    # the three timed rounds: steadier than the rate on a shared machine.
    cpu_us = 1e6 * (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / (3 * count)
    rate = count / wasm
    out["tiny"] = {"tasks": count, "wasm_per_s": rate, "wasm_cpu_us_per_task": cpu_us}
    print(f"tiny    wasm        {rate:10.0f} tasks/s   ({cpu_us:.0f} us of CPU per task)")
    # The floor any concurrent.futures executor pays: making, completing
    # and reading plain Futures in one thread, no executor, no other thread.
    def futures_only():
        futures = []
        for _ in range(count):
            f = cf.Future()
            f.set_result(1)
            futures.append(f)
        return sum(f.result() for f in futures)

    floor, _ = timed(futures_only, 3)
    out["tiny"]["futures_only_per_s"] = count / floor
    print(f"tiny    futures only {count / floor:9.0f} tasks/s   (cf.Future made, set, read; one thread)")
    # The same calls through `map`: wpool sends them in batches.
    ones = [1] * count
    with wpool.WasmPoolExecutor(args.workers) as ex:
        ex.preload(calc)
        sum(ex.map(calc.heavy_calc, ones))  # warm up; sizes the batches
        cpu0 = os.times()
        mapped, _ = timed(lambda: sum(ex.map(calc.heavy_calc, ones)), 3)
        cpu1 = os.times()
    map_cpu_us = 1e6 * (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / (3 * count)
    map_rate = count / mapped
    out["tiny"].update(wasm_map_per_s=map_rate, wasm_map_cpu_us_per_task=map_cpu_us)
    print(f"tiny    wasm map    {map_rate:10.0f} tasks/s   ({map_cpu_us:.1f} us of CPU per task)")
    for kind, pool in python_pools(args.workers):
        with pool:
            seconds, _ = timed(lambda: run(pool, baselines.heavy_calc), 1)
            map_seconds, _ = timed(lambda: sum(pool.map(baselines.heavy_calc, ones)), 1)
        out["tiny"][kind + "_per_s"] = count / seconds
        out["tiny"][kind + "_map_per_s"] = count / map_seconds
        print(f"tiny    {kind:11} {count / seconds:10.0f} tasks/s   wasm is {rate * seconds / count:6.1f}x")
        print(
            f"tiny    {kind:11} map {count / map_seconds:6.0f} tasks/s   "
            f"wasm map is {map_rate * map_seconds / count:6.1f}x"
        )


def fetch_urllib(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url) as resp:
        return resp.read()


async def fetch_all(urls, hash_body, concurrency=32):
    """Fetches every URL; `hash_body(loop, body)` is awaited per body (or None)."""
    try:
        import aiohttp
    except ImportError:
        aiohttp = None
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    session = None
    if aiohttp is not None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency), trust_env=False
        )

    async def one(url):
        async with sem:
            if session is None:
                data = await asyncio.to_thread(fetch_urllib, url)
            else:
                async with session.get(url) as resp:
                    data = await resp.read()
        if hash_body is None:
            return len(data)
        return await hash_body(loop, data)

    try:
        return await asyncio.gather(*(one(u) for u in urls))
    finally:
        if session is not None:
            await session.close()


def bench_fetch(args, out):
    count = 1000 // args.scale
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.1:{port}/{i}" for i in range(count)]
        # The host's SHA-256 through the digest grant, as hashlib uses the
        # CPU's SHA extensions; the guest's own code reaches ~150 MiB/s.
        sha = wpool.guest("sha256", digest=True)
        client = "aiohttp" if _has_aiohttp() else "urllib in threads"
        fetch_only, _ = timed(lambda: asyncio.run(fetch_all(urls, None)), 2)
        out["fetch"] = {"bodies": count, "client": client, "fetch_only_s": fetch_only}
        print(f"fetch   ({count} bodies, {client}) fetch alone {fetch_only:8.3f} s")
        with wpool.WasmPoolExecutor(args.workers) as ex:
            ex.preload(sha)

            async def wasm_hash(loop, data):
                return await loop.run_in_executor(ex, sha.hex, data)

            wasm, digests = timed(lambda: asyncio.run(fetch_all(urls, wasm_hash)), 2)
        for i in (0, count - 1):
            assert digests[i] == hashlib.sha256(body(i)).hexdigest()
        out["fetch"]["wasm_s"] = wasm
        print(f"fetch   wasm        {wasm:8.3f} s")
        for kind, pool in python_pools(args.workers):
            with pool:

                async def py_hash(loop, data, pool=pool):
                    return await loop.run_in_executor(pool, baselines.sha256hex, data)

                seconds, got = timed(lambda: asyncio.run(fetch_all(urls, py_hash)), 1)
            assert got == digests, kind
            out["fetch"][kind + "_s"] = seconds
            print(f"fetch   {kind:11} {seconds:8.3f} s   wasm is {seconds / wasm:6.1f}x faster")
    finally:
        server.kill()
        server.wait()


def _has_aiohttp():
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--quick", action="store_true", help="inputs divided by 10")
    parser.add_argument("--only", default="heavy,tiny,fetch")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    args.scale = 10 if args.quick else 1
    out = {"python": platform.python_version(), "workers": args.workers, "quick": args.quick}
    print(f"Python {out['python']}, {args.workers} workers{' (quick)' if args.quick else ''}")
    for name in args.only.split(","):
        {"heavy": bench_heavy, "tiny": bench_tiny, "fetch": bench_fetch}[name](args, out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
