"""wpool's WasmPoolExecutor next to Python's own executors, in one run.

    python executor_bench.py [--quick] [--workers N] [--rounds R] [--only heavy,tiny,fetch]

Needs the `wpool` package importable (bench/python/run_executor_bench.sh
installs it) and, for the interpreter pool, Python 3.14. Three workloads,
each timed after its pools are started and warm, every side of a workload
once per round in turn (A B C A B C ...), R rounds (3), medians:

heavy  the seed's program 2: ``ex.map(heavy_calc, [50M, 60M, 70M, 80M])``;
       WasmPoolExecutor (the built-in guest) vs InterpreterPoolExecutor and
       ProcessPoolExecutor (the plain-Python loop of baselines.py).
tiny   10,000 ``submit(heavy_calc, 1)`` then every result, and the same
       calls through ``map``: tasks per second;
       beside it, 10,000 plain Futures made, set and read in one thread.
fetch  the seed's program 1 on loopback: 1,000 bodies of 16 KiB to 1 MiB
       from an HTTP server in another process (aiohttp's, else Python's
       ThreadingHTTPServer; each body made once), fetched with asyncio
       (aiohttp when installed, else urllib in threads), each hashed as it
       arrives by ``loop.run_in_executor(ex, sha256, body)``; plus fetching
       alone.

Prints a table and, on the last line, one JSON object with every figure.
`--quick` divides the inputs by 10 (for a smoke run).
"""

import argparse
import asyncio
import concurrent.futures as cf
import contextlib
import hashlib
import http.server
import json
import os
import platform
import statistics
import subprocess
import sys
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
        data = cached_body(int(self.path.rsplit("/", 1)[-1]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


BODIES = {}


def cached_body(i):
    """Body i, made once: the server then only sends."""
    data = BODIES.get(i)
    if data is None:
        data = BODIES[i] = body(i)
    return data


def serve():
    """Serves body i at /i on a free loopback port, printed first. With
    aiohttp's server when there is one: Python's ThreadingHTTPServer is
    slower than any client here and erratic (1.8 to 9 s for the 1,000
    bodies in four rounds on 2 vCPUs, against 0.33 s), and would be what
    every side measures."""
    try:
        from aiohttp import web
    except ImportError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        return

    async def handle(request):
        return web.Response(body=cached_body(int(request.match_info["i"])))

    async def main():
        app = web.Application()
        app.router.add_get("/{i}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def interleaved(sides, rounds):
    """Runs each of `sides` (name -> function) once per round, in turn (A B
    C A B C ...), so that drift on a shared machine falls on every side
    alike. Gives each side's median seconds, its median process CPU seconds
    (every thread of this process; not the pools' child processes) and its
    last result."""
    wall = {name: [] for name in sides}
    cpu = {name: [] for name in sides}
    results = {}
    for _ in range(rounds):
        for name, fn in sides.items():
            c0, t0 = time.process_time(), time.perf_counter()
            results[name] = fn()
            t1, c1 = time.perf_counter(), time.process_time()
            wall[name].append(t1 - t0)
            cpu[name].append(c1 - c0)
    median = statistics.median
    return (
        {n: median(t) for n, t in wall.items()},
        {n: median(t) for n, t in cpu.items()},
        results,
    )


def python_pools(stack, workers):
    """Python's pools, started and warm, closed with `stack`."""
    kinds = ["process"]
    if hasattr(cf, "InterpreterPoolExecutor"):
        kinds.insert(0, "interpreter")
    pools = {}
    for kind in kinds:
        pool, _, _ = baselines.start_pool(kind, workers)
        pools[kind] = stack.enter_context(pool)
    return pools


def bench_heavy(args, out):
    ns = [n // args.scale for n in (50_000_000, 60_000_000, 70_000_000, 80_000_000)]
    calc = wpool.guest("heavy_calc")
    with contextlib.ExitStack() as stack:
        ex = stack.enter_context(wpool.WasmPoolExecutor(args.workers))
        ex.preload(calc)
        sides = {"wasm": lambda: list(ex.map(calc.heavy_calc, ns))}
        for kind, pool in python_pools(stack, args.workers).items():
            sides[kind] = lambda pool=pool: list(pool.map(baselines.heavy_calc, ns))
        wall, _, got = interleaved(sides, args.rounds)
    for kind in sides:
        assert got[kind] == got["wasm"], (kind, got[kind], got["wasm"])
    out["heavy"] = {kind + "_s": wall[kind] for kind in sides}
    print(f"heavy   wasm        {wall['wasm']:8.3f} s")
    for kind in list(sides)[1:]:
        print(
            f"heavy   {kind:11} {wall[kind]:8.3f} s   "
            f"wasm is {wall[kind] / wall['wasm']:6.1f}x faster"
        )


def bench_tiny(args, out):
    count = 10_000 // args.scale
    calc = wpool.guest("heavy_calc")
    ones = [1] * count

    def run(ex, fn):
        futures = [ex.submit(fn, 1) for _ in range(count)]
        return sum(f.result() for f in futures)

    # The floor any concurrent.futures executor pays: making, completing
    # and reading plain Futures in one thread, no executor, no other thread.
    def futures_only():
        futures = []
        for _ in range(count):
            f = cf.Future()
            f.set_result(1)
            futures.append(f)
        return sum(f.result() for f in futures)

    with contextlib.ExitStack() as stack:
        ex = stack.enter_context(wpool.WasmPoolExecutor(args.workers))
        ex.preload(calc)
        run(ex, calc.heavy_calc)  # warm every worker's instance
        sum(ex.map(calc.heavy_calc, ones))  # sizes map's batches
        sides = {
            "wasm": lambda: run(ex, calc.heavy_calc),
            # The same calls through `map`: wpool sends them in batches.
            "wasm map": lambda: sum(ex.map(calc.heavy_calc, ones)),
            "futures only": futures_only,
        }
        for kind, pool in python_pools(stack, args.workers).items():
            sides[kind] = lambda pool=pool: run(pool, baselines.heavy_calc)
            sides[kind + " map"] = lambda pool=pool: sum(pool.map(baselines.heavy_calc, ones))
        wall, cpu, got = interleaved(sides, args.rounds)
    expected = count * baselines.heavy_calc(1)
    assert got.pop("futures only") == count and all(v == expected for v in got.values()), got
    rate = {name: count / seconds for name, seconds in wall.items()}
    # Process CPU (every thread: Python, completer, workers) per task.
    cpu_us = {name: 1e6 * cpu[name] / count for name in ("wasm", "wasm map")}
    out["tiny"] = {
        "tasks": count,
        "wasm_per_s": rate["wasm"],
        "wasm_cpu_us_per_task": cpu_us["wasm"],
        "futures_only_per_s": rate["futures only"],
        "wasm_map_per_s": rate["wasm map"],
        "wasm_map_cpu_us_per_task": cpu_us["wasm map"],
    }
    print(f"tiny    wasm        {rate['wasm']:10.0f} tasks/s   ({cpu_us['wasm']:.1f} us of CPU per task)")
    print(
        f"tiny    futures only {rate['futures only']:9.0f} tasks/s   "
        "(cf.Future made, set, read; one thread)"
    )
    print(
        f"tiny    wasm map    {rate['wasm map']:10.0f} tasks/s   "
        f"({cpu_us['wasm map']:.1f} us of CPU per task)"
    )
    for kind in ("interpreter", "process"):
        if kind not in rate:
            continue
        out["tiny"][kind + "_per_s"] = rate[kind]
        out["tiny"][kind + "_map_per_s"] = rate[kind + " map"]
        print(
            f"tiny    {kind:11} {rate[kind]:10.0f} tasks/s   "
            f"wasm is {rate['wasm'] / rate[kind]:6.1f}x"
        )
        print(
            f"tiny    {kind:11} map {rate[kind + ' map']:6.0f} tasks/s   "
            f"wasm map is {rate['wasm map'] / rate[kind + ' map']:6.1f}x"
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
        asyncio.run(fetch_all(urls, None))  # the server makes its bodies
        # The host's SHA-256 through the digest grant, as hashlib uses the
        # CPU's SHA extensions; the guest's own code reaches ~150 MiB/s.
        sha = wpool.guest("sha256", digest=True)
        client = "aiohttp" if _has_aiohttp() else "urllib in threads"
        with contextlib.ExitStack() as stack:
            ex = stack.enter_context(wpool.WasmPoolExecutor(args.workers))
            ex.preload(sha)

            def hashed_in(pool, fn):
                async def hash_body(loop, data):
                    return await loop.run_in_executor(pool, fn, data)

                return lambda: asyncio.run(fetch_all(urls, hash_body))

            sides = {
                "fetch alone": lambda: asyncio.run(fetch_all(urls, None)),
                "wasm": hashed_in(ex, sha.hex),
            }
            for kind, pool in python_pools(stack, args.workers).items():
                sides[kind] = hashed_in(pool, baselines.sha256hex)
            wall, _, got = interleaved(sides, args.rounds)
        digests = got["wasm"]
        for i in (0, count - 1):
            assert digests[i] == hashlib.sha256(body(i)).hexdigest()
        for kind in list(sides)[2:]:
            assert got[kind] == digests, kind
        out["fetch"] = {"bodies": count, "client": client}
        out["fetch"].update({kind.replace(" ", "_") + "_s": wall[kind] for kind in sides})
        print(f"fetch   ({count} bodies, {client}) fetch alone {wall['fetch alone']:8.3f} s")
        print(f"fetch   wasm        {wall['wasm']:8.3f} s")
        for kind in list(sides)[2:]:
            print(
                f"fetch   {kind:11} {wall[kind]:8.3f} s   "
                f"wasm is {wall[kind] / wall['wasm']:6.1f}x faster"
            )
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
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per side, interleaved (median)"
    )
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
