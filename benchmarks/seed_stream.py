"""Reading seeds: peak memory of a streamed ``datasets.IterableDataset`` against the same rows
held in a list, and rows per second of the layout reader on an Alpaca JSONL file.

    python benchmarks/seed_stream.py                  # 1M streamed rows, 200k file rows
    python benchmarks/seed_stream.py --rows 100000 --file-rows 50000

Each figure comes from a fresh process. Memory is the rise of the peak RSS (``ru_maxrss``)
from the first row to the last, so imports and datasets' own start-up are not counted;
"materialised" reads the same stream into a list first, the figure a reader that holds the
rows would show.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MEMORY = r"""
import resource, sys
import datasets
from evolkit.data.sources import open_seeds

rows, hold = int(sys.argv[1]), sys.argv[2] == "hold"

def gen():
    for i in range(rows):
        yield {"question": f"What is {i} plus {i}? Show each step of the sum.",
               "answer": f"{i}+{i}={2 * i}", "n": i}

it = iter(open_seeds(datasets.IterableDataset.from_generator(gen)))
first = next(it)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if hold:
    kept = [first, *it]
    count = len(kept)
else:
    count = 1 + sum(1 for _ in it)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(count, (peak - base) / 1024)
"""

SPEED = r"""
import sys, time
from evolkit.io import read_instructions
start = time.perf_counter()
count = sum(1 for _ in read_instructions(sys.argv[1]))
print(count, time.perf_counter() - start)
"""


def child(code: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file-rows", type=int, default=200_000)
    args = parser.parse_args()
    for mode in ("stream", "hold"):
        count, rise = child(MEMORY, str(args.rows), mode)
        label = "streamed" if mode == "stream" else "materialised"
        print(f"{label:>12}: {int(count):,} rows, peak RSS +{float(rise):.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alpaca.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(args.file_rows):
                row = {
                    "instruction": f"Sort the numbers of list {i}.",
                    "input": f"{i} 3 1 2",
                    "output": f"1 2 3 {i}",
                    "category": "sorting",
                }
                fh.write(json.dumps(row) + "\n")
        count, seconds = child(SPEED, str(path))
        rate = int(count) / float(seconds)
        print(
            f"  file reader: {int(count):,} Alpaca rows in {float(seconds):.2f}s, "
            f"{rate:,.0f} rows/s"
        )


if __name__ == "__main__":
    main()
