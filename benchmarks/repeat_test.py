"""Run one test again and again on a machine kept busy, and stop at the first failure.

A test that passes only on an idle machine is a flaky test. This runs the given pytest node id
``--runs`` times in a row, each in a fresh ``python -m pytest`` process, while ``--hogs``
spinning processes keep the cores busy, and prints each run's result and time, then how many
passed in a row. Exits 1 at the first failure (with its output), 0 when every run passed.

    python benchmarks/repeat_test.py \
        tests/failures/test_processes.py::test_sigterm_is_handled_like_ctrl_c --runs 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import _tests_dir  # noqa: F401  (tests/ on sys.path, for its process tools)

from process_tools import cpu_hog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test", help="a pytest node id")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--hogs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", args.test, "-q", "-p", "no:cacheprovider"]
    started = time.perf_counter()
    with cpu_hog(args.hogs):
        for run in range(1, args.runs + 1):
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            took = time.perf_counter() - began
            load = os.getloadavg()[0]
            result = "passed" if done.returncode == 0 else "FAILED"
            print(f"run {run}: {result} in {took:.1f} s, load average {load:.1f}", flush=True)
            if done.returncode != 0:
                print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
                print(f"{run - 1} passed in a row before a failure, with {args.hogs} CPU hogs")
                sys.exit(1)
    total = time.perf_counter() - started
    print(f"{args.runs} of {args.runs} passed in a row in {total:.0f} s, with {args.hogs} CPU hogs")


if __name__ == "__main__":
    main()
