"""An optimisation killed with SIGKILL and started again writes the same method file as an
uninterrupted one, and never repeats a finished call in any of its journals."""

from __future__ import annotations

import os
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
    "Describe how a bicycle gear works.",
]
DEV = [
    "Summarise the water cycle for a child.",
    "Plan a picnic for six people.",
    "Compare cats and dogs as pets.",
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(latency=0.15, seed=3).run_in_thread() as s:
        yield s


def _command(tmp: Path, out: Path, url: str) -> list[str]:
    return [
        sys.executable, "-m", "evolkit.cli", "optimize", str(tmp / "seeds.txt"),
        "--dev", str(tmp / "dev.txt"), "-o", str(out), "--model", "openai/fake",
        "--api-base", url, "--steps", "2", "--candidates", "2", "--batch-size", "2",
        "--trajectory-rounds", "1", "--seed", "3", "--concurrency", "2", "--cache", "off", "-q",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _journals(out: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(out.with_name(out.name + ".evolkit").rglob("*journal.sqlite")):
        db = sqlite3.connect(path)
        try:
            keys = [row[0] for row in db.execute("SELECT key FROM calls ORDER BY seq")]
        except sqlite3.OperationalError:  # created, schema not written yet
            keys = []
        finally:
            db.close()
        found[str(path.relative_to(out.parent))] = keys
    return found


@pytest.mark.slow
def test_killed_optimisation_resumes_to_the_same_method_file(
    tmp_path: Path, server: FakeServer
) -> None:
    (tmp_path / "seeds.txt").write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    (tmp_path / "dev.txt").write_text("\n".join(DEV) + "\n", encoding="utf-8")
    whole = tmp_path / "whole" / "method.toml"
    whole.parent.mkdir()
    subprocess.run(_command(tmp_path, whole, server.url), env=_env(), check=True, timeout=300)

    resumed = tmp_path / "resumed" / "method.toml"
    resumed.parent.mkdir()
    workdir = resumed.with_name(resumed.name + ".evolkit")
    kills = 0
    # kill it twice mid-run (once while the initial method is scored, once in step 1), then
    # let it finish
    for reached in (
        lambda: sum(len(k) for k in _journals(resumed).values()) >= 2,
        lambda: (workdir / "step01").is_dir(),
    ):
        proc = subprocess.Popen(_command(tmp_path, resumed, server.url), env=_env())
        deadline = time.monotonic() + 120
        while proc.poll() is None and not reached() and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    assert kills == 2
    assert not resumed.exists()
    done_before = sum(len(keys) for keys in _journals(resumed).values())
    assert done_before > 0  # the killed runs had finished calls to resume from
    subprocess.run(_command(tmp_path, resumed, server.url), env=_env(), check=True, timeout=300)

    assert resumed.read_bytes() == whole.read_bytes()
    journals = _journals(resumed)
    for name, keys in journals.items():
        assert len(keys) == len(set(keys)), f"a finished call was made twice in {name}"
    expected = {k.replace("whole", "resumed", 1): len(v) for k, v in _journals(whole).items()}
    assert {k: len(v) for k, v in journals.items()} == expected
