"""``evolkit view`` on a large run: start-up, the first page in a browser, the API, memory.

Writes a run of ``--rows`` rows in evolkit's format (kept rows over four rounds with lineage and
answers, one drop in ten, each drop with a reason), starts ``evolkit view OUT --no-browser`` in
a child process, and measures:

- *open*: from the child's start to the address printed (the run read and indexed);
- *api*: ``GET /api/rows`` for the first page, unfiltered and filtered (median of repeats);
- *render*: headless Chromium (Selenium, Debian's chromedriver) from ``get(url)`` to the first
  page of rows in the DOM, and the rows the DOM holds (one page, not the run);
- the server's resident memory (``VmRSS``) and peak (``VmHWM``) from ``/proc``.

    python benchmarks/view.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from evolkit import Instruction
from evolkit.engine.stats import Drop, RunStats
from evolkit.engine.workdir import WorkDir, summary_path

WORDS = [
    "explain",
    "compare",
    "describe",
    "list",
    "the",
    "a",
    "of",
    "and",
    "with",
    "each",
    "step",
    "water",
    "heat",
    "metal",
    "wood",
    "copper",
    "reason",
    "example",
    "figure",
    "table",
    "summary",
    "constraint",
    "answer",
    "short",
    "plain",
    "language",
    "assumption",
    "measure",
    "result",
    "check",
    "approach",
    "two",
    "three",
    "numbers",
    "kilometre",
    "robot",
    "story",
    "plot",
    "lock",
    "key",
]
REASONS = ["near_copy:no_information_gain", "growth:too_long", "refusal:refused", "one_task:piled"]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def write_run(out: Path, rows: int, seed: int = 0) -> tuple[int, int]:
    """About ``rows`` rows: kept rows over rounds 0-4 with lineage, and a drop for one in ten."""
    rng = random.Random(seed)
    seeds = max(1, rows // 5)
    workdir = WorkDir.for_output(out)
    workdir.ensure()
    kept = dropped = 0
    pool = [
        Instruction(text=_sentence(rng, 12) + f" #{k}", response=_sentence(rng, 60))
        for k in range(seeds)
    ]
    drop_files = {r: workdir.drops(r).open("w", encoding="utf-8") for r in range(5)}
    with out.open("w", encoding="utf-8") as fh:
        for inst in pool:
            fh.write(json.dumps(inst.to_record()) + "\n")
        kept += len(pool)
        r = 0
        while kept + dropped < rows:
            r += 1
            nxt = []
            for parent in pool:
                if kept + dropped >= rows:
                    break
                text = parent.text + " " + _sentence(rng, 6)
                if rng.random() < 0.1:
                    rule, reason = rng.choice(REASONS).split(":")
                    drop = Drop(r, parent.id, "depth.deepen", "filter", rule, reason, text)
                    drop_files[min(r, 4)].write(json.dumps(drop.to_record()) + "\n")
                    dropped += 1
                    nxt.append(parent)
                    continue
                child = Instruction(
                    text=text,
                    parent_id=parent.id,
                    operator=rng.choice(
                        ["depth.deepen", "depth.add_constraints", "breadth.mutate"]
                    ),
                    round=r,
                    response=_sentence(rng, 60),
                    metadata={"growth": {"added_words": 6, "target": "within"}},
                )
                fh.write(json.dumps(child.to_record()) + "\n")
                kept += 1
                nxt.append(child)
            pool = nxt
    for f in drop_files.values():
        f.close()
    stats = RunStats(seeds=seeds, rounds=r, rows_per_round={0: seeds})
    report = {"status": "complete", "stats": stats.to_json(), "settings": {}}
    summary_path(out).write_text(json.dumps(report), encoding="utf-8")
    return kept, dropped


def _get(url: str) -> tuple[float, Any]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = json.loads(response.read())
    return time.perf_counter() - start, body


def _memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def _render(driver: Any, url: str) -> float:
    """Seconds from ``get(url)`` to the first page of rows in the DOM."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    start = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, 60, poll_frequency=0.01).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "rows"
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="evolkit-view-"))
    try:
        out = folder / "data.jsonl"
        kept, dropped = write_run(out, args.rows)
        files = [out, summary_path(out), *WorkDir.for_output(out).path.iterdir()]
        size = sum(p.stat().st_size for p in files)
        print(f"run: {kept} kept + {dropped} dropped rows, {size / 1e6:.1f} MB")
        launched = time.perf_counter()
        driver = _browser()
        print(f"browser: launched in {time.perf_counter() - launched:.2f} s (before the clock)")
        try:
            return _measure(driver, out, kept, args.repeats)
        finally:
            driver.quit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(driver: Any, out: Path, kept: int, repeats: int) -> int:
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "evolkit.cli", "view", str(out), "--no-browser"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        listening = time.perf_counter() - start
        url = line.rsplit(" at ", 1)[1].strip()
        print(f"listening: {listening:.2f} s after 'evolkit view' started")
        first = _render(driver, url)
        rows_in_dom = len(driver.find_elements("css selector", "tr.row"))
        print(
            f"first page: {listening + first:.2f} s from the start to {rows_in_dom} rows in the "
            f"DOM ({first:.2f} s of it in the browser)"
        )
        while not _get(url + "api/summary")[1]["loaded"]:
            time.sleep(0.02)
        print(f"whole run read: {time.perf_counter() - start:.2f} s after the start")
        renders = [_render(driver, url) for _ in range(repeats)]
        print(f"render, run read: median {statistics.median(renders):.2f} s")
        opened = _memory(child.pid)
        some_id = _get(url + "api/rows?limit=1")[1]["rows"][0]["id"]
        for name, path in [
            ("first page", "api/rows?offset=0&limit=50"),
            ("page at offset 90,000", f"api/rows?offset={min(90_000, kept)}&limit=50"),
            ("dropped, reason too_long", "api/rows?kept=dropped&reason=too_long&limit=50"),
            ("search 'copper robot'", "api/rows?q=copper%20robot&limit=50"),
            ("summary", "api/summary"),
            ("one row's page", f"api/row/{some_id}"),
        ]:
            times = [_get(url + path)[0] for _ in range(repeats)]
            print(f"api: {name}: median {1000 * statistics.median(times):.0f} ms")
        memory = _memory(child.pid)
        print(
            f"server memory: {opened['VmRSS']} MB with the run read, {memory['VmRSS']} MB "
            f"after the requests, peak {memory['VmHWM']} MB"
        )
    finally:
        child.terminate()
        child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
