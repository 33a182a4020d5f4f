"""Runs the probes of every command's guarantees (``tests/cli_probes.py``: each starts
``evolkit`` in a child process against a loopback server and checks the data it leaves) and
prints one row per probe with how many of its runs held and failed.

    python benchmarks/probes.py               # every probe once
    python benchmarks/probes.py --repeat 3    # every probe three times
    python benchmarks/probes.py --only cache  # the probes whose name has "cache" in it
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the probes and the fake server)

from cli_probes import PROBES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of every probe (1)")
    parser.add_argument("--only", default="", help="run the probes whose name holds this")
    args = parser.parse_args(argv)
    chosen = {name: probe for name, probe in PROBES.items() if args.only in name}
    held_total = failed_total = 0
    print(f"{'probe':<52} {'held':>5} {'failed':>6}")
    for name, probe in chosen.items():
        held = failed = 0
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="evolkit-probe-") as tmp:
                try:
                    ok = probe(Path(tmp))
                except Exception as exc:  # a probe that breaks counts as failed, with why
                    print(f"  {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    ok = False
            held, failed = held + ok, failed + (not ok)
        held_total, failed_total = held_total + held, failed_total + failed
        print(f"{name:<52} {held:>5} {failed:>6}", flush=True)
    print(f"{'all ' + str(len(chosen)) + ' probes':<52} {held_total:>5} {failed_total:>6}")
    return 0 if failed_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
