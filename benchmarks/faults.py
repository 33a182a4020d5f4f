"""A run with 20% of model calls failing (429, 500, 503, timeouts, dropped connections,
malformed bodies) against the same run with none: it completes, loses nothing, repeats no row,
and its data set equals the fault-free one except for the evolutions that failed past their
retries, which are listed.

    python benchmarks/faults.py                       # 200 seeds, 2 rounds, 20% faults
    python benchmarks/faults.py --seeds 500 --rate 0.3 --retries 2
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

import evolkit
from evolkit.backends.litellm import LiteLLMBackend
from fakeserver import FakeServer, FaultPlan


def run(url: str, seeds: list[str], args: argparse.Namespace) -> tuple[evolkit.RunResult, float]:
    backend = LiteLLMBackend("openai/fake", {"api_base": url, "api_key": "x"})
    start = time.perf_counter()
    result = evolkit.evolve(
        seeds, rounds=args.rounds, seed=1, backend=backend, concurrency=args.concurrency,
        retries=args.retries, timeout=args.timeout, backoff=0.05, backoff_max=0.5,
    )
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--retries", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    seeds = [f"Explain, with an example, how idea number {i} works." for i in range(args.seeds)]
    plan = FaultPlan.mixed(args.rate, retry_after=0.1, timeout_delay=args.timeout * 3)

    with FakeServer(latency=args.latency, seed=5).run_in_process() as server:
        clean, clean_s = run(server.url, seeds, args)
    with FakeServer(latency=args.latency, seed=5, faults=plan).run_in_process() as server:
        faulty, faulty_s = run(server.url, seeds, args)
        served = server.snapshot()

    clean_rows = {r.id: r.to_record() for r in clean}
    faulty_list = [r.to_record() for r in faulty]
    faulty_rows = {r["id"]: r for r in faulty_list}
    # Evolutions dropped after failing past retries, and seeds left without a response.
    failed = [d for d in faulty.iter_drops() if d.reason.startswith("model_error:")]
    failed_parents = {d.parent_id for d in failed}

    # Lineages that never met a failure must come out exactly as in the fault-free run.
    def touched(row: dict[str, object]) -> bool:
        current: dict[str, object] | None = row
        while current is not None:
            if current["id"] in failed_parents:
                return True
            parent = current["parent_id"]
            current = faulty_rows.get(parent) if isinstance(parent, str) else None
        return False

    untouched_equal = all(
        clean_rows.get(i) == row for i, row in faulty_rows.items() if not touched(row)
    )
    print(f"fault plan: {args.rate:.0%} of attempts fail, spread over "
          f"{', '.join(sorted(served.faults))}")
    print(f"requests served: {served.requests}, faults injected: {sum(served.faults.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(served.faults.items()))})")
    print(f"fault-free run: {len(clean_rows)} rows in {clean_s:.1f}s")
    print(f"faulty run:     {len(faulty_rows)} rows in {faulty_s:.1f}s, "
          f"{faulty.stats.retries} retries, {faulty.stats.call_failures} calls failed past retries")
    print(f"duplicate rows: {len(faulty_list) - len(faulty_rows)}")
    print(f"rows of lineages that met no failure equal the fault-free run's: {untouched_equal}")
    print(f"seeds left without a response after failing past their retries: "
          f"{faulty.stats.seed_response_failures}")
    print(f"calls that failed past their retries, each listed: {len(failed)}")
    for d in failed:
        print(f"  round {d.round} parent {d.parent_id} {d.operator}: {d.reason}")


if __name__ == "__main__":
    main()
