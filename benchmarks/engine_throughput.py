"""Calls per second and CPU per call, side by side on one fake server: bare aiohttp, bare
litellm, evolkit through litellm, evolkit through the lean OpenAI-compatible transport.

    python benchmarks/engine_throughput.py                  # concurrency 1, 64 and 512
    python benchmarks/engine_throughput.py --concurrency 512 --repeats 3
    python benchmarks/engine_throughput.py --concurrency 512 --only evolkit-lean \\
        --profile /tmp/lean.prof                             # cProfile of one evolkit run

The fake server runs in its own process (so it takes neither this process's CPU time nor its
GIL) and answers every request after ``--latency`` seconds. The four systems take turns
``--repeats`` times at each concurrency, and the fastest turn of each is shown with its CPU per
call (this process's user + system time over the calls it made), so a noisy, shared machine
slows all four alike and the ratios hold.

evolkit's workload: one round, responses off, filters ``template_leak`` (no call) and
``information_gain`` (one judge call), so every evolution makes two calls; its own cost per call
is its CPU per call minus the same transport's bare CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

import evolkit
from evolkit._protocols import Backend
from evolkit.backends._litellm_import import import_litellm
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.backends.openai_compat import OpenAICompatBackend
from fakeserver import FakeServer

#: calls per measurement at each concurrency (about 1–4 s for the lean systems at 100 ms)
CALLS = {1: 40, 64: 3200, 512: 8192}
#: litellm is ten times slower per call: fewer calls keep its turns short
LITELLM_CALLS = {1: 40, 64: 2048, 512: 3072}
SYSTEMS = ("aiohttp", "litellm", "evolkit-litellm", "evolkit-lean")


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Answer question number {i}."}]


async def bare_aiohttp(url: str, calls: int, concurrency: int) -> int:
    import aiohttp

    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            async with semaphore:
                body = json.dumps({"model": "fake", "messages": _messages(i)}).encode()
                headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}
                async with session.post(f"{url}/chat/completions", data=body, headers=headers) as r:
                    reply = json.loads(await r.read())
                    assert reply["choices"][0]["message"]["content"]

        await asyncio.gather(*(one(i) for i in range(calls)))
    return calls


async def bare_litellm(url: str, calls: int, concurrency: int) -> int:
    litellm = import_litellm()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await litellm.acompletion(
                model="openai/fake",
                api_base=url,
                api_key="x",
                messages=_messages(i),
                num_retries=0,
            )

    try:
        await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        await litellm.close_litellm_async_clients()
    return calls


def through_evolkit(backend: Backend, calls: int, concurrency: int) -> int:
    seeds = [f"Explain idea number {i} in plain words." for i in range(calls // 2)]
    with tempfile.TemporaryDirectory() as tmp:
        result = evolkit.evolve(
            seeds,
            rounds=1,
            backend=backend,
            output=Path(tmp) / "out.jsonl",
            concurrency=concurrency,
            respond=False,
            filters=["template_leak", "information_gain"],
        )
    if result.stats.call_failures:
        raise RuntimeError(f"{result.stats.call_failures} calls failed")
    return result.stats.calls_sent


def _runners(url: str, concurrency: int) -> dict[str, Callable[[int], int]]:
    params = {"api_base": url, "api_key": "x"}
    return {
        "aiohttp": lambda n: asyncio.run(bare_aiohttp(url, n, concurrency)),
        "litellm": lambda n: asyncio.run(bare_litellm(url, n, concurrency)),
        "evolkit-litellm": lambda n: through_evolkit(
            LiteLLMBackend("openai/fake", params), n, concurrency
        ),
        "evolkit-lean": lambda n: through_evolkit(
            OpenAICompatBackend("openai-compatible/fake", params), n, concurrency
        ),
    }


def measure(run: Callable[[int], int], calls: int, profile: str | None = None) -> dict[str, float]:
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    made = run(calls)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"calls": made, "wall": wall, "rate": made / wall, "cpu_ms": cpu / made * 1000}


def _calls(system: str, concurrency: int, override: int | None) -> int:
    if override:
        return override
    table = LITELLM_CALLS if "litellm" in system else CALLS
    return table.get(concurrency, 16 * concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 64, 512])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--calls", type=int, default=None, help="calls per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="turns per system")
    parser.add_argument("--only", nargs="*", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--profile", default=None, help="cProfile the last turn to this file")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    import_litellm()  # import cost outside the timings
    print(
        f"fake server latency {args.latency * 1000:.0f} ms, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with FakeServer(latency=args.latency).run_in_process() as server:
        for c in args.concurrency:
            runners = _runners(server.url, c)
            for system in args.only:  # warm-up: connections, caches, first-call lookups
                runners[system](min(2 * c, _calls(system, c, args.calls)))
            best: dict[str, dict[str, float]] = {}
            for turn in range(args.repeats):
                for system in args.only:
                    last = turn == args.repeats - 1 and system == args.only[-1]
                    got = measure(
                        runners[system],
                        _calls(system, c, args.calls),
                        args.profile if last else None,
                    )
                    if system not in best or got["rate"] > best[system]["rate"]:
                        best[system] = got
            figures[str(c)] = best
            _print(c, args.latency, best)
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def _print(concurrency: int, latency: float, best: dict[str, dict[str, float]]) -> None:
    print(f"\nconcurrency {concurrency} (ideal {concurrency / latency:.0f} calls/s)")
    print(f"{'system':>16} {'calls':>6} {'wall s':>7} {'calls/s':>8} {'CPU ms/call':>12}")
    for system, got in best.items():
        print(
            f"{system:>16} {got['calls']:>6.0f} {got['wall']:>7.2f} {got['rate']:>8.1f} "
            f"{got['cpu_ms']:>12.3f}"
        )
    ratios: list[tuple[str, str, str]] = [
        ("evolkit-lean", "aiohttp", "lean evolkit / bare aiohttp"),
        ("evolkit-litellm", "litellm", "evolkit via litellm / bare litellm"),
        ("evolkit-lean", "litellm", "lean evolkit / bare litellm"),
        ("evolkit-lean", "evolkit-litellm", "lean evolkit / evolkit via litellm"),
    ]
    for a, b, label in ratios:
        if a in best and b in best:
            print(f"  {label}: {best[a]['rate'] / best[b]['rate']:.2f}x calls/s")
    for evolkit_system, bare in (("evolkit-lean", "aiohttp"), ("evolkit-litellm", "litellm")):
        if evolkit_system in best and bare in best:
            own = best[evolkit_system]["cpu_ms"] - best[bare]["cpu_ms"]
            print(f"  evolkit's own CPU per call over {bare}: {own:.3f} ms")


if __name__ == "__main__":
    main()
