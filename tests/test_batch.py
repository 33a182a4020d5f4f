"""Batch mode against a loopback stand-in for OpenAI's files and batches endpoints."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from batch_scenarios import MODEL, SCENARIOS, SEEDS
from batch_standin import BatchStandIn
from evolkit.engine import evolve


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_batch_scenario(scenario: str, tmp_path: Path) -> None:
    """Output equals online, splitting, expiry, crash recovery and progress; see
    batch_scenarios for each (they run in a child process)."""
    code = f"import batch_scenarios as s; s.main({scenario!r}, {str(tmp_path)!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr[-6000:]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _command(seeds: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evolkit.cli",
        "evolve",
        str(seeds),
        "-o",
        str(out),
        "--model",
        MODEL,
        "--api-base",
        url,
        "--rounds",
        "1",
        "--seed",
        "5",
        "--cache",
        "off",
        "-q",
        *extra,
    ]


def _env() -> dict[str, str]:
    """The child's environment: the test helpers importable, a key for the stand-in."""
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "OPENAI_API_KEY": "test",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def _batch_ids(out: Path) -> list[str]:
    path = out.with_name(out.name + ".evolkit") / "journal.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [
            r[0] for r in db.execute("SELECT batch_id FROM batch_jobs WHERE batch_id IS NOT NULL")
        ]
    except sqlite3.OperationalError:  # the table is not created yet
        return []
    finally:
        db.close()


@pytest.mark.slow
def test_killed_after_submission_restart_sends_no_new_batch_for_it(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    out = tmp_path / "batch.jsonl"
    flags = ("--batch", "--batch-poll", "0.05", "--batch-quiet", "0.1")
    server = BatchStandIn(hold=True)
    with server.run_in_thread():
        proc = subprocess.Popen(_command(seeds, out, server.url, *flags), env=_env())
        deadline = time.monotonic() + 90
        while not _batch_ids(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _batch_ids(out), "the run never journaled a batch id"
        time.sleep(0.3)  # polling the held batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        before = server.created()
        assert len(before) == 1 and len(before[0]) == len(SEEDS)  # the seeds' answers
        server.release()
        subprocess.run(
            _command(seeds, out, server.url, *flags), env=_env(), check=True, timeout=120
        )
        after = server.created()[len(before) :]
        online = tmp_path / "online.jsonl"
        subprocess.run(_command(seeds, online, server.url), env=_env(), check=True, timeout=120)
    assert after, "the restarted run went on to the next stages"
    submitted = set(before[0])
    assert not submitted & {key for keys in after for key in keys}
    assert _rows(out) == _rows(online)


def test_batch_mode_needs_a_batch_capable_backend() -> None:
    from evolkit.errors import ConfigError
    from evolkit.testing import FakeBackend

    with pytest.raises(ConfigError, match="batch mode needs a backend with a provider batch API"):
        evolve(SEEDS, rounds=1, backend=FakeBackend.default(), batch=True)
    with pytest.raises(ConfigError, match="--max-cost needs the model's prices"):
        evolve(SEEDS, rounds=1, backend=FakeBackend.default(), max_cost=1.0)
    from evolkit.engine.executor import LocalExecutor

    with pytest.raises(ConfigError, match="work on the calls of one process"):
        evolve(SEEDS, backend=FakeBackend.default(), batch=True, executor=LocalExecutor(4))
