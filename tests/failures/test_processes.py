"""Runs in separate processes: one writer per output, SIGTERM, and ``kill -9`` mid-run.

The kill test counts the calls the server saw, not only the journal: a resumed run makes
exactly the calls that were not journaled before the kill, and the data set equals the one
an uninterrupted run writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evolkit.cli import main
from process_tools import journaled, lines, spawn, wait_for

SEEDS = [f"Give three tips for learning language number {i}." for i in range(12)]


@pytest.fixture
def argv(evolve_argv: Any) -> Any:
    """``evolkit evolve`` with 4 calls in flight, so a kill lands among few of them."""
    return lambda seeds, out, url: [*evolve_argv(seeds, out, url), "--concurrency", "4"]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.txt"
    path.write_text("\n".join(SEEDS) + "\n")
    return path


@pytest.fixture
def clean(
    seeds: Path, tmp_path: Path, make_server: Any, good_key: str, argv: Any
) -> tuple[int, list[str]]:
    """Calls an uninterrupted run makes, and its rows."""
    out = tmp_path / "clean.jsonl"
    with make_server() as server:
        assert main(argv(seeds, out, server.url)) == 0
        return server.answered, sorted(out.read_text().splitlines())


def test_second_process_on_one_output_refuses_at_once_naming_the_pid(
    argv: Any,
    seeds: Path,
    tmp_path: Path,
    server: Any,
    good_key: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.delay = 0.2
    out = tmp_path / "out.jsonl"
    first = spawn(argv(seeds, out, server.url))
    try:
        pid_file = out.with_name(out.name + ".evolkit") / "lock.pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() == str(first.pid))
        capsys.readouterr()
        start = time.monotonic()
        code = main(argv(seeds, out, server.url))
        elapsed = time.monotonic() - start
        err = lines(capsys.readouterr().err)
        assert code == 2
        assert len(err) == 1 and err[0].startswith("error: "), err
        assert f"being written by process {first.pid}" in err[0]
        assert elapsed < 5
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.communicate()


def test_kill_9_then_resume_makes_only_the_calls_not_journaled(
    argv: Any,
    seeds: Path,
    tmp_path: Path,
    server: Any,
    clean: tuple[int, list[str]],
) -> None:
    clean_calls, clean_rows = clean
    server.delay = 0.05
    out = tmp_path / "out.jsonl"
    proc = spawn(argv(seeds, out, server.url))
    wait_for(lambda: journaled(out) >= 10 or proc.poll() is not None)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.5)  # requests the dead process had sent finish on the server side
    kept = journaled(out)
    seen_before_resume = server.answered
    assert 10 <= kept < clean_calls, "the kill must land mid-run, after calls were journaled"
    assert seen_before_resume - kept <= 4  # at most the calls in flight (--concurrency 4)
    workdir = out.with_name(out.name + ".evolkit")
    leftovers = list(workdir.glob("*.tmp")) + list(workdir.glob(".*.tmp"))
    assert leftovers, "the kill left the open round files behind"

    done = subprocess.run(
        [sys.executable, "-m", "evolkit.cli", *argv(seeds, out, server.url)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    resumed_calls = server.answered - seen_before_resume
    assert resumed_calls == clean_calls - kept  # journaled calls are never made again
    assert server.answered <= clean_calls + 4
    assert sorted(out.read_text().splitlines()) == clean_rows
    assert not list(workdir.glob(".*.tmp")) and not list(out.parent.glob(f".{out.name}*.tmp"))


def test_sigterm_is_handled_like_ctrl_c(
    argv: Any, seeds: Path, tmp_path: Path, server: Any, good_key: str, clean: tuple[int, list[str]]
) -> None:
    clean_calls, clean_rows = clean
    server.delay = 0.05
    out = tmp_path / "out.jsonl"
    proc = spawn(argv(seeds, out, server.url))
    wait_for(lambda: journaled(out) >= 5 or proc.poll() is not None)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    err = lines(stderr)
    assert err and err[-1].startswith("interrupted: finished calls are saved"), err
    assert "Traceback" not in stderr
    time.sleep(0.5)
    kept = journaled(out)
    before = server.answered

    assert main(argv(seeds, out, server.url)) == 0
    assert server.answered - before == clean_calls - kept
    assert sorted(out.read_text().splitlines()) == clean_rows
    state = json.loads((out.with_name(out.name + ".evolkit") / "state.json").read_text())
    assert state["completed_round"] == 2
