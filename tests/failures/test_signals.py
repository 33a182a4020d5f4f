"""SIGTERM and SIGINT at 20 moments each of ``evolkit evolve``, on a machine kept busy by a CPU
hog: during start-up, mid-round, at a round boundary, while the output is written, and while a
batch is polled. Every run ends with the one ``interrupted`` line and status 130, nothing else
on stderr (no traceback, no "Task exception was never retrieved", no "Exception ignored"), and
the same command again makes exactly the calls that were not journaled and writes the rows an
uninterrupted run writes.

The children speak to the loopback server with the ``openai-compatible`` backend and skip its
price lookup (``PRELUDE``), so that none imports litellm: each starts in about a second instead
of several, and 40 of them fit in the test's time.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch_scenarios import MODEL as BATCH_MODEL
from batch_scenarios import SEEDS as BATCH_SEEDS
from batch_standin import BatchStandIn
from evolkit.cli import main
from evolkit.engine.interrupts import INTERRUPTED
from process_tools import (
    LEAKS,
    completed_round,
    cpu_hog,
    handles_signals,
    journaled,
    lines,
    spawn,
    wait_for,
    workdir,
)

SEEDS = [f"Name two habits that help with studying subject number {i}." for i in range(10)]
PRELUDE = "import evolkit.backends.openai_compat as c\nc._prices = lambda model: (0.0, 0.0)"
SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: When to send the signal: once ``ready(out, calls)()`` holds, after ``delay`` seconds.
Ready = Callable[[Path, int], Callable[[], bool]]


def _started(out: Path, calls: int) -> Callable[[], bool]:
    """The command line has taken over the signals: its start-up goes on."""
    return lambda: True


def _journaled(share: float) -> Ready:
    """Once ``share`` of the run's calls are journaled (mid-round; 1.0: the output is written)."""
    return lambda out, calls: lambda: journaled(out) >= max(1, int(calls * share))


def _round_done(number: int) -> Ready:
    """As soon as round ``number`` is recorded as finished (a round boundary)."""
    return lambda out, calls: lambda: completed_round(out) >= number


MOMENTS: list[tuple[str, Ready, float]] = [
    *((f"start-up +{d}s", _started, d) for d in (0.0, 0.05, 0.15, 0.3, 0.6)),
    *((f"mid-round {s:.0%}", _journaled(s), 0.0) for s in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9)),
    *((f"boundary after round {n}", _round_done(n), 0.0) for n in (0, 1, 0, 1)),
    *(("writing the output", _journaled(1.0), 0.0) for _ in range(3)),
]


def _argv(seeds: Path, out: Path, url: str) -> list[str]:
    return [
        "evolve", str(seeds), "-o", str(out), "--model", "openai-compatible/known",
        "--api-base", url, "--rounds", "2", "--concurrency", "4", "-q",
    ]  # fmt: skip


def _check_stopped(proc: subprocess.Popen[str], where: str) -> None:
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (where, proc.returncode, stderr)
    assert lines(stderr) == [INTERRUPTED], (where, stderr)
    assert not [leak for leak in LEAKS if leak in stderr], (where, stderr)


def _interrupt_once(
    signum: int, moment: tuple[str, Ready, float], seeds: Path, out: Path, server: Any, calls: int
) -> int:
    """Run, send ``signum`` at ``moment``, check how it ended; the calls journaled."""
    name, when, delay = moment
    proc = spawn(_argv(seeds, out, server.url), prelude=PRELUDE)
    where = f"{signal.Signals(signum).name} at {name}"
    try:
        wait_for(lambda: handles_signals(proc.pid) or proc.poll() is not None, step=0.005)
        ready = when(out, calls)
        wait_for(lambda: ready() or proc.poll() is not None, timeout=120, step=0.005)
        time.sleep(delay)
        assert proc.poll() is None, f"{where}: the run ended before the signal"
        proc.send_signal(signum)
        _check_stopped(proc, where)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    time.sleep(0.3)  # calls the stopped process had sent finish on the server's side
    return journaled(out)


@pytest.mark.slow
def test_sigterm_and_sigint_at_any_moment_end_in_one_line_and_resume_to_the_same_rows(
    tmp_path: Path, server: Any, good_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evolkit.backends.openai_compat as compat

    monkeypatch.setattr(compat, "_prices", lambda model: (0.0, 0.0))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n")
    clean_out = tmp_path / "clean.jsonl"
    assert main(_argv(seeds, clean_out, server.url)) == 0
    calls, clean_rows = server.answered, sorted(clean_out.read_text().splitlines())
    server.delay = 0.02
    with cpu_hog():
        for signum in SIGNALS:
            for number, moment in enumerate(MOMENTS):
                name = moment[0]
                out = tmp_path / f"{signal.Signals(signum).name}-{number}.jsonl"
                kept = _interrupt_once(signum, moment, seeds, out, server, calls)
                before = server.answered
                assert main(_argv(seeds, out, server.url)) == 0, name
                assert server.answered - before == calls - kept, name  # no journaled call again
                assert sorted(out.read_text().splitlines()) == clean_rows, name


def _batch_argv(seeds: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [
        "evolve", str(seeds), "-o", str(out), "--model", BATCH_MODEL, "--api-base", url,
        "--rounds", "1", "--seed", "5", "-q", *extra,
    ]  # fmt: skip


BATCH_FLAGS = ("--batch", "--batch-poll", "0.05", "--batch-quiet", "0.1")


def _batch_ids(out: Path) -> list[str]:
    path = workdir(out) / "journal.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            query = "SELECT batch_id FROM batch_jobs WHERE batch_id IS NOT NULL"
            return [row[0] for row in db.execute(query)]
    except sqlite3.OperationalError:  # the table is not created yet
        return []


@pytest.mark.slow
def test_a_signal_while_a_batch_is_polled_ends_in_one_line_and_resumes(tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(BATCH_SEEDS) + "\n", encoding="utf-8")
    server = BatchStandIn(hold=True)
    with server.run_in_thread(), cpu_hog():
        online = tmp_path / "online.jsonl"
        done = spawn(_batch_argv(seeds, online, server.url), env=env)
        assert done.communicate(timeout=120) and done.returncode == 0
        for signum in SIGNALS:
            server.hold = True
            out = tmp_path / f"batch-{signal.Signals(signum).name}.jsonl"
            proc = spawn(_batch_argv(seeds, out, server.url, *BATCH_FLAGS), env=env)
            try:
                wait_for(lambda: bool(_batch_ids(out)) or proc.poll() is not None, timeout=120)  # noqa: B023
                time.sleep(0.3)  # polling the held batch
                assert proc.poll() is None, "the batch run ended before the signal"
                proc.send_signal(signum)
                _check_stopped(proc, f"{signal.Signals(signum).name} while a batch is polled")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            server.release()
            resumed = spawn(_batch_argv(seeds, out, server.url, *BATCH_FLAGS), env=env)
            _, err = resumed.communicate(timeout=120)
            assert resumed.returncode == 0, err
            assert out.read_text().splitlines() == online.read_text().splitlines()
