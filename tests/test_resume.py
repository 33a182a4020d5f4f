"""A run killed with SIGKILL at a random moment and started again ends with exactly the data
set of an uninterrupted run, and never repeats a finished call."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakeserver import FakeServer

SEEDS = [
    "Explain why the sky is blue.",
    "Write a haiku about autumn rain.",
    "List three uses of a paperclip.",
    "Add 4, 8 and 15, showing each step.",
    "Describe how a bicycle gear works.",
    "Summarise the water cycle for a child.",
    "Plan a picnic for six people on a budget.",
    "Compare cats and dogs as pets.",
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(latency=0.02, seed=3).run_in_thread() as s:
        yield s


def _command(seeds: Path, out: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evolkit.cli",
        "evolve",
        str(seeds),
        "-o",
        str(out),
        "--model",
        "openai/fake",
        "--api-base",
        url,
        "--rounds",
        "3",
        "--seed",
        "7",
        "--concurrency",
        "4",
        "--cache",
        "off",
        "-q",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _journal_keys(out: Path) -> list[str]:
    db = sqlite3.connect(out.with_name(out.name + ".evolkit") / "journal.sqlite")
    try:
        return [row[0] for row in db.execute("SELECT key FROM calls ORDER BY seq")]
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(2))
def test_kill_and_resume_equals_uninterrupted(
    tmp_path: Path, server: FakeServer, attempt: int
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    whole = tmp_path / "whole.jsonl"
    subprocess.run(_command(seeds, whole, server.url), env=_env(), check=True, timeout=120)

    resumed = tmp_path / "resumed.jsonl"
    rng = random.Random(attempt)
    kills = 0
    for _ in range(2):  # kill it twice at random moments, then let it finish
        proc = subprocess.Popen(_command(seeds, resumed, server.url), env=_env())
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    subprocess.run(_command(seeds, resumed, server.url), env=_env(), check=True, timeout=120)

    assert resumed.read_bytes() == whole.read_bytes()
    keys = _journal_keys(resumed)
    assert len(keys) == len(set(keys)), "a finished call was made twice"
    assert len(keys) == len(_journal_keys(whole))
    report = json.loads(resumed.with_name(resumed.name + ".run.json").read_text())
    assert report["stats"]["rows"] == len(whole.read_text().splitlines())
    assert kills >= 1 or attempt > 0
