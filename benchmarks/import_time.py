"""Time of ``import evolkit`` in a fresh interpreter (target: under 0.3 s).

    python benchmarks/import_time.py          # median of 15 runs

Prints the median and best wall time of ``python -c "import evolkit"`` minus the interpreter's
own start-up (``python -c pass``), and lists any heavy package the import pulled in.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    runs = 15
    bare = [timed("pass") for _ in range(runs)]
    full = [timed("import evolkit") for _ in range(runs)]
    cost = [f - b for f, b in zip(sorted(full), sorted(bare), strict=True)]
    heavy = subprocess.run(
        [sys.executable, "-c", "import evolkit, sys; print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in {'litellm','torch','rich','httpx','openai','aiohttp',"
         "'transformers'}))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"import evolkit: median {statistics.median(cost) * 1000:.0f} ms, "
          f"best {min(cost) * 1000:.0f} ms (interpreter start-up subtracted, {runs} runs)")
    print(f"heavy modules imported: {heavy}")


if __name__ == "__main__":
    main()
