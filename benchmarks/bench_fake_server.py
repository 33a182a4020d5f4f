"""Throughput of the fake OpenAI-compatible server (tests/fakeserver) in its own process.

The server runs as ``python -m fakeserver`` in a child process; this process is the
client and keeps ``--concurrency`` requests in flight until ``--requests`` are done, then prints
requests per second, latency percentiles and the server's own counters.

    python benchmarks/bench_fake_server.py --requests 20000 --concurrency 512 --latency 0
    python benchmarks/bench_fake_server.py --client litellm --requests 3000 --concurrency 512
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

from fakeserver import FakeServer, FaultPlan


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question {i}: explain why {i} squared is {i * i}."}]


async def _raw_client(url: str, n: int, concurrency: int) -> tuple[list[float], int]:
    """A minimal keep-alive HTTP/1.1 client (one request at a time per connection), cheap enough
    that the server, not the client, is what the figure measures."""
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while next_index < n:
                i = next_index
                next_index += 1
                body = json.dumps({"model": "fake", "messages": _messages(i)}).encode()
                head = (
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                start = time.perf_counter()
                writer.write(head.encode() + body)
                status_line = await reader.readuntil(b"\r\n")
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if status_line.split()[1] != b"200":
                    errors += 1
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def _aiohttp_client(url: str, n: int, concurrency: int) -> tuple[list[float], int]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < n:
                i = next_index
                next_index += 1
                start = time.perf_counter()
                body = {"model": "fake", "messages": _messages(i)}
                try:
                    async with session.post(url + "/chat/completions", json=body) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def _litellm_client(url: str, n: int, concurrency: int) -> tuple[list[float], int]:
    from evolkit.backends._litellm_import import import_litellm
    from evolkit.backends.litellm import LiteLLMBackend
    from evolkit.errors import ModelError

    backend = LiteLLMBackend("openai/fake", {"api_base": url, "api_key": "x", "timeout": 60})
    latencies: list[float] = []
    errors = 0
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal errors
        async with semaphore:
            start = time.perf_counter()
            try:
                await backend.complete(_messages(i))  # type: ignore[arg-type]
            except ModelError:
                errors += 1
            latencies.append(time.perf_counter() - start)

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await import_litellm().close_litellm_async_clients()
    return latencies, errors


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux)."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--latency", type=float, default=0.0, help="server latency, seconds")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of 429/500/503 faults the server injects",
    )
    parser.add_argument("--client", choices=["raw", "aiohttp", "litellm"], default="raw")
    args = parser.parse_args()

    plan = (
        FaultPlan.mixed(args.fault_rate, kinds=("429", "500", "503")) if args.fault_rate else None
    )
    clients = {"raw": _raw_client, "aiohttp": _aiohttp_client, "litellm": _litellm_client}
    client: Any = clients[args.client]
    with FakeServer(latency=args.latency, faults=plan).run_in_process() as server:
        asyncio.run(client(server.url, min(200, args.requests), args.concurrency))  # warm-up
        server.reset_stats()
        cpu_before = _cpu_seconds(server.pid)
        start = time.perf_counter()
        latencies, errors = asyncio.run(client(server.url, args.requests, args.concurrency))
        elapsed = time.perf_counter() - start
        server_cpu = _cpu_seconds(server.pid) - cpu_before
        stats = server.snapshot()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"client={args.client} requests={args.requests} concurrency={args.concurrency} "
        f"server_latency={args.latency}s fault_rate={args.fault_rate}"
    )
    print(f"throughput: {args.requests / elapsed:.0f} requests/s ({elapsed:.2f} s)")
    print(f"latency: p50={q[49] * 1000:.1f} ms p95={q[94] * 1000:.1f} ms p99={q[98] * 1000:.1f} ms")
    print(f"errors seen by the client: {errors}")
    per_request = server_cpu / args.requests
    print(
        f"server CPU: {server_cpu:.2f} s, {per_request * 1e6:.0f} us/request "
        f"(one core could serve about {1 / per_request:.0f} requests/s)"
    )
    print(
        f"server: requests={stats.requests} ok={stats.ok} faults={stats.faults} "
        f"max_in_flight={stats.max_in_flight}"
    )


if __name__ == "__main__":
    main()
