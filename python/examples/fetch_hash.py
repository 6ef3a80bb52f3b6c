"""The seed's program 1 on wpool: fetch bodies with asyncio and hash each one
on the pool as it arrives.

    python examples/fetch_hash.py [--count 1000] [--concurrency 32]

The bodies (16 KiB to 1 MiB) come from a loopback HTTP server this script
starts. aiohttp fetches them when it is installed; otherwise the standard
library does, in threads. Prints one line per body (`sha256  size  url`)
checked against hashlib, then a summary.
"""

import argparse
import asyncio
import hashlib
import http.server
import threading
import time
import urllib.request

import wpool

# The digest grant lets the guest call the host's SHA-256 (the CPU's SHA
# extensions, as hashlib does); without it the guest's own code hashes.
sha = wpool.guest("sha256", digest=True)


def body(i: int) -> bytes:
    """Body i: 16 KiB to 1 MiB of a repeating pattern."""
    size = 16 * 1024 + (i * 104_729) % (1024 * 1024 - 16 * 1024)
    return bytes((i + j) % 251 for j in range(251)) * (size // 251) + b"x" * (size % 251)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = body(int(self.path.rsplit("/", 1)[-1]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def fetch_urllib(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url) as resp:
        return resp.read()


async def main(urls: list[str], concurrency: int) -> list[tuple[str, int, str]]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    try:
        import aiohttp
    except ImportError:
        aiohttp = None
    session = aiohttp.ClientSession(trust_env=False) if aiohttp else None

    async def fetch(url: str) -> bytes:
        async with sem:
            if session is None:
                return await asyncio.to_thread(fetch_urllib, url)
            async with session.get(url) as resp:
                return await resp.read()

    with wpool.WasmPoolExecutor() as ex:

        async def one(url: str) -> tuple[str, int, str]:
            data = await fetch(url)
            return url, len(data), await loop.run_in_executor(ex, sha.hex, data)

        try:
            return await asyncio.gather(*(one(u) for u in urls))
        finally:
            if session is not None:
                await session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/body"
    urls = [f"{base}/{i}" for i in range(args.count)]

    start = time.perf_counter()
    results = asyncio.run(main(urls, args.concurrency))
    seconds = time.perf_counter() - start
    server.shutdown()

    for i, (url, size, digest) in enumerate(results):
        assert digest == hashlib.sha256(body(i)).hexdigest(), url
        print(digest, size, url)
    total = sum(size for _, size, _ in results)
    print(f"{len(results)} bodies, {total / 2**20:.1f} MiB, hashed by wpool in {seconds:.2f} s")
