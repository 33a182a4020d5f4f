"""Engine efficiency: model calls per second through evolkit against the ceiling of bare
``litellm.acompletion`` calls, on the same fake server, at the same concurrency.

    python benchmarks/engine_throughput.py                 # concurrency 1, 64 and 512
    python benchmarks/engine_throughput.py --concurrency 64 --latency 0.1

The fake server runs in its own process (so it does not share this process's CPU time or GIL)
and answers every request after ``--latency`` seconds. Each evolution here makes two calls (the
rewrite and the information-gain judgement; responses are off so the figure is the engine's,
not the response length's). Printed per concurrency: calls/s of each, their ratio, and the CPU
that evolkit spends per evolution beyond what the same calls cost in bare litellm.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import evolkit
from evolkit.backends._litellm_import import import_litellm
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.testing.server import FakeServer

CALLS = {1: 40, 64: 1600, 512: 4096}


async def bare(url: str, calls: int, concurrency: int) -> tuple[float, float]:
    litellm = import_litellm()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await litellm.acompletion(
                model="openai/fake",
                api_base=url,
                api_key="x",
                messages=[{"role": "user", "content": f"Answer question number {i}."}],
                num_retries=0,
            )

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - wall, time.process_time() - cpu


def through_evolkit(url: str, calls: int, concurrency: int) -> tuple[float, float, int, int]:
    seeds = [f"Explain idea number {i} in plain words." for i in range(calls // 2)]
    backend = LiteLLMBackend("openai/fake", {"api_base": url, "api_key": "x"})
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        result = evolkit.evolve(
            seeds,
            rounds=1,
            backend=backend,
            output=Path(tmp) / "out.jsonl",
            concurrency=concurrency,
            respond=False,
            filters=["template_leak", "information_gain"],
        )
        return (
            time.perf_counter() - wall,
            time.process_time() - cpu,
            result.stats.calls_sent,
            len(seeds),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 64, 512])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--calls", type=int, default=None, help="calls per measurement")
    args = parser.parse_args()
    import_litellm()  # import cost outside the timings
    print(f"fake server latency {args.latency * 1000:.0f} ms, {os.cpu_count()} cores")
    header = (
        f"{'conc':>5} {'calls':>6} {'bare/s':>8} {'evolkit/s':>10} {'ratio':>6} "
        f"{'ideal/s':>8} {'evolkit CPU/evolution beyond litellm':>38}"
    )
    print(header)
    with FakeServer(latency=args.latency).run_in_process() as server:
        for c in args.concurrency:
            n = args.calls or CALLS.get(c, 20 * c)
            asyncio.run(bare(server.url, min(n, 2 * c), c))  # warm up connections
            bare_wall, bare_cpu = asyncio.run(bare(server.url, n, c))
            ev_wall, ev_cpu, sent, evolutions = through_evolkit(server.url, n, c)
            bare_rate = n / bare_wall
            ev_rate = sent / ev_wall
            extra_cpu_ms = (ev_cpu - bare_cpu / n * sent) / evolutions * 1000
            print(
                f"{c:>5} {n:>6} {bare_rate:>8.1f} {ev_rate:>10.1f} {ev_rate / bare_rate:>6.2f} "
                f"{c / args.latency:>8.0f} {extra_cpu_ms:>35.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
