"""Memory and speed of the ``near_duplicate`` index as a data set grows to a million rows.

    python benchmarks/near_duplicates.py                 # 1,000,000 rows
    python benchmarks/near_duplicates.py --rows 100000

Rows are synthetic instructions of 12 to 20 words drawn from a 2,000-word vocabulary, each
its own lineage, checked and then added one by one as a run does. Every 100th row is a planted
near duplicate (one word of an earlier row changed), so the script also prints how many of
those the index catches and how many other rows it flags. Printed at 10k, 100k and every
further 100k rows: the process's peak resident memory (``ru_maxrss``, which includes the
interpreter, NumPy and datasketch) and microseconds per row.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from evolkit import Instruction
from evolkit.filters.near_duplicate import NearDuplicateFilter

_SYLLABLES = ["ka", "lo", "mi", "re", "tu", "sa", "ne", "vo", "di", "pe", "ra", "zu", "fi", "go"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    vocab = vocabulary(2000, rng)
    index = NearDuplicateFilter().new_index()
    kept: list[list[str]] = []  # the last 10,000 rows, to plant duplicates of
    planted = caught = flagged = 0
    print(f"start: peak {peak_mb():.0f} MB")
    started = time.perf_counter()
    milestones = {10_000, 100_000} | set(range(200_000, args.rows + 1, 100_000)) | {args.rows}
    for i in range(1, args.rows + 1):
        if i % 100 == 0 and kept:
            words = list(rng.choice(kept))
            words[rng.randrange(len(words))] = rng.choice(vocab)
            planted += 1
        else:
            words = [rng.choice(vocab) for _ in range(rng.randint(12, 20))]
        row = Instruction(text=" ".join(words) + ".")
        verdict = index.check(row)
        if not verdict.keep:
            if i % 100 == 0:
                caught += 1
            else:
                flagged += 1
        else:
            index.add(row)
            kept.append(words)
            if len(kept) > 10_000:
                kept.pop(rng.randrange(len(kept)))
        if i in milestones:
            per_row = (time.perf_counter() - started) / i * 1e6
            print(
                f"{i:>9,} rows: peak {peak_mb():>6.0f} MB, {per_row:.0f} us/row, "
                f"planted duplicates caught {caught}/{planted}, other rows flagged {flagged}"
            )


if __name__ == "__main__":
    main()
