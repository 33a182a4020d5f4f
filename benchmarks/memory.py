"""Peak resident memory of a run against the number of seeds: it must not grow with the data set.

    python benchmarks/memory.py                      # 10k, 100k and 1M seeds
    python benchmarks/memory.py --sizes 10000 100000

Each size runs in a fresh process: one round, streamed to an output file, with the in-process
fake model (an HTTP fake server would measure the client, not the engine, and take hours for a
million seeds on two cores) and responses off. The seeds file is written first by a streaming
writer; the printed figure is the child process's peak RSS (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import resource, sys, time
import evolkit
from evolkit.testing import FakeBackend
seeds, out, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
result = evolkit.evolve(seeds, rounds=1, backend=FakeBackend.default(record=False), output=out,
                        respond=False, concurrency=concurrency, filters=["template_leak"])
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{result.stats.rows} {elapsed:.1f} {peak:.0f}")
"""


def write_seeds(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"instruction": f"Describe the history of town number {i}."}
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    print(f"{'seeds':>9} {'rows':>9} {'seconds':>8} {'evol/s':>7} {'peak RSS MiB':>13}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            seeds = Path(tmp) / "seeds.jsonl"
            write_seeds(seeds, n)
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(seeds), str(Path(tmp) / "out.jsonl"),
                 str(args.concurrency)],
                capture_output=True, text=True, check=True,
            )
            rows, elapsed, peak = proc.stdout.split()
            print(f"{n:>9} {rows:>9} {float(elapsed):>8.1f} {n / float(elapsed):>7.0f} {peak:>13}",
                  flush=True)


if __name__ == "__main__":
    main()
