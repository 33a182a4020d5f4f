"""Throughput of a run on 1, 2 and 4 Ray workers (RayExecutor) against two fake model servers.

Two fake OpenAI-compatible servers run in child processes with ``--latency`` seconds per
answer; a RouterBackend spreads the calls over both. Each worker count gets its own
RayExecutor on one private local Ray instance; a short warm-up run starts the workers, then
one timed round evolves ``--seeds`` instructions (seed answers are skipped so that every call
of the timed run is made by the workers). Printed: wall seconds, model calls per second and
the speed-up over one worker; the single-process engine (no Ray) is measured for reference.

    python benchmarks/scale_workers.py --seeds 96 --latency 0.5 --concurrency 4 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

import evolkit
from evolkit.scale import RayExecutor, RouterBackend, RouterConfig
from evolkit.scale.executor import import_ray
from fakeserver import FakeServer


def _seeds(n: int, tag: str) -> list[str]:
    return [
        f"Plan a {tag} walking tour of district {i} that visits three old bridges."
        for i in range(n)
    ]


def _router(urls: list[str]) -> RouterBackend:
    deployments = [
        {
            "model_name": "evolver",
            "litellm_params": {"model": "openai/fake", "api_base": url, "api_key": "sk-fake"},
        }
        for url in urls
    ]
    return RouterBackend(RouterConfig(model_list=deployments))


def _timed(
    backend: RouterBackend, seeds: list[str], concurrency: int, executor: Any
) -> dict[str, float]:
    settings: dict[str, Any] = {"rounds": 1, "seed": 7, "respond_seeds": False}
    started = time.perf_counter()
    result = evolkit.evolve(
        seeds, backend=backend, concurrency=concurrency, executor=executor, **settings
    )
    wall = time.perf_counter() - started
    calls = result.stats.calls_sent
    return {"wall_s": round(wall, 2), "calls": calls, "calls_per_s": round(calls / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=96, help="instructions in the timed round")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per fake answer")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight per worker")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    parser.add_argument("--no-local", action="store_true", help="skip the single-process figure")
    parser.add_argument(
        "--local-concurrency",
        default=None,
        help="calls in flight for the single-process figures, comma-separated (default: "
        "--concurrency)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",") if x.strip() and int(x) > 0]
    local = [int(x) for x in (args.local_concurrency or str(args.concurrency)).split(",")]

    ray = import_ray(loopback=True)
    ray.init(
        address="local",
        num_cpus=max(counts, default=1),
        include_dashboard=False,
        log_to_driver=False,
    )
    report: dict[str, Any] = {
        "seeds": args.seeds,
        "latency_s": args.latency,
        "concurrency_per_worker": args.concurrency,
        "cpus": os.cpu_count(),
        "runs": {},
    }
    one = FakeServer(latency=args.latency)
    two = FakeServer(latency=args.latency)
    with one.run_in_process() as a, two.run_in_process() as b:
        backend = _router([a.url, b.url])
        _timed(backend, _seeds(4, "warm-up"), args.concurrency, None)  # litellm's first use
        for c in [] if args.no_local else local:
            figure = _timed(backend, _seeds(args.seeds, f"local {c}"), c, None)
            report["runs"][f"local_c{c}"] = figure
            print(f"single process, concurrency {c}   {figure}", flush=True)
        for n in counts:
            with RayExecutor(workers=n, concurrency=args.concurrency) as executor:
                executor.start()
                warm = _seeds(args.concurrency * n * 2, f"warm-up {n}")
                _timed(backend, warm, args.concurrency, executor)
                figure = _timed(
                    backend, _seeds(args.seeds, f"{n} workers"), args.concurrency, executor
                )
            base = report["runs"].get("ray_1")
            if base:
                figure["speedup_vs_1"] = round(figure["calls_per_s"] / base["calls_per_s"], 2)
            report["runs"][f"ray_{n}"] = figure
            print(f"ray, {n} worker(s) x concurrency {args.concurrency}   {figure}", flush=True)
    ray.shutdown()
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
