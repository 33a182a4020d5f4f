"""Every long command ends a signal the way ``evolve`` does: one ``interrupted`` line, status
130, nothing else on stderr, no temporary file left beside its output; and a second signal
while a run is stopping ends it at once, the same way, without losing a journaled call.

The commands run against the loopback server, answering slowly, so each is in the middle of its
calls when the signal comes; ``export`` is stopped while it converts a large file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evolkit.cli import main
from evolkit.engine.interrupts import INTERRUPTED
from process_tools import LEAKS, handles_signals, journaled, lines, spawn, wait_for

PRELUDE = "import evolkit.backends.openai_compat as c\nc._prices = lambda model: (0.0, 0.0)"
MODEL = "openai-compatible/known"
SEEDS = [f"Give three tips for learning musical instrument number {i}." for i in range(12)]


def _evolve(seeds: Path, out: Path, url: str) -> list[str]:
    return [
        "evolve", str(seeds), "-o", str(out), "--model", MODEL, "--api-base", url,
        "--rounds", "2", "--concurrency", "2", "-q",
    ]  # fmt: skip


def _stopped_cleanly(proc: subprocess.Popen[str], where: str) -> None:
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (where, proc.returncode, stderr)
    assert lines(stderr) == [INTERRUPTED], (where, stderr)
    assert not [leak for leak in LEAKS if leak in stderr], (where, stderr)


def _signal_when(
    argv: list[str], ready: Callable[[], bool], signum: int, *, prelude: str = PRELUDE
) -> subprocess.Popen[str]:
    """Start ``evolkit ARGV`` and send ``signum`` once it handles signals and ``ready()``."""
    proc = spawn(argv, prelude=prelude)
    try:
        wait_for(lambda: handles_signals(proc.pid) or proc.poll() is not None, step=0.005)
        wait_for(lambda: ready() or proc.poll() is not None, timeout=120, step=0.005)
        if proc.poll() is not None:
            pytest.fail(f"{argv[0]} ended before the signal: {proc.communicate()[1][-600:]}")
        proc.send_signal(signum)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


@pytest.fixture
def evolved(tmp_path: Path, server: Any, good_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A finished evolve run's output, made at full speed; the server is slow afterwards."""
    import evolkit.backends.openai_compat as compat

    monkeypatch.setattr(compat, "_prices", lambda model: (0.0, 0.0))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n")
    out = tmp_path / "evolved.jsonl"
    assert main(_evolve(seeds, out, server.url)) == 0
    server.delay = 0.3
    return out


def _commands(evolved: Path, url: str) -> dict[str, list[str]]:
    folder = evolved.parent
    dev = [f"Explain how to care for a houseplant of kind number {i}." for i in range(6)]
    (folder / "dev.txt").write_text("\n".join(dev) + "\n")
    questions = folder / "questions.jsonl"
    with questions.open("w") as f:
        for i in range(30):
            f.write(json.dumps({"question": f"What is {i} plus 2?", "answer": f"#### {i + 2}"}))
            f.write("\n")
    remote = ["--model", MODEL, "--api-base", url]
    return {
        "filter": ["filter", str(evolved), "-o", str(folder / "f.jsonl"), *remote],
        "score": ["score", str(evolved), "--scores", "difficulty", *remote, "-q"],
        "optimize": [
            "optimize", str(folder / "seeds.txt"), "--dev", str(folder / "dev.txt"),
            "-o", str(folder / "method.json"), *remote, "--steps", "2", "--candidates", "2",
            "--cache", "off", "-q",
        ],
        "eval": [
            "eval", "gsm8k", "--model", MODEL, "--option", f"api_base={url}", "--backend",
            "litellm", "--data", str(questions),
            "-o", str(folder / "records.jsonl"), "--concurrency", "2",
        ],
    }  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ("filter", signal.SIGTERM),
        ("score", signal.SIGINT),
        ("optimize", signal.SIGTERM),
        ("eval", signal.SIGINT),
    ],
)
def test_a_signal_while_a_command_calls_the_model_ends_in_one_line(
    command: str, signum: int, evolved: Path, server: Any
) -> None:
    argv = _commands(evolved, server.url)[command]
    posts = server.posts
    proc = _signal_when(argv, lambda: server.posts >= posts + 2, signum)
    _stopped_cleanly(proc, f"{signal.Signals(signum).name} during {command}")
    assert not list(evolved.parent.glob(".*.tmp")), list(evolved.parent.iterdir())


@pytest.mark.slow
def test_a_signal_while_export_converts_ends_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "big.jsonl"
    row = {"instruction": "Describe a quiet morning in a small harbour town.", "output": "x" * 200}
    with data.open("w") as f:
        for i in range(300_000):
            f.write(json.dumps({**row, "id": str(i)}) + "\n")
    target = tmp_path / "alpaca.json"
    argv = ["export", str(data), str(target), "--format", "alpaca"]
    temporary = lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # noqa: E731
    proc = _signal_when(argv, temporary, signal.SIGINT, prelude="")
    _stopped_cleanly(proc, "SIGINT during export")
    assert not target.exists()  # never a half-written data set
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_a_second_signal_while_stopping_ends_at_once_and_loses_nothing_journaled(
    evolved: Path, server: Any
) -> None:
    seeds, out = evolved.parent / "seeds.txt", evolved.parent / "again.jsonl"
    clean_rows = sorted(evolved.read_text().splitlines())
    calls = server.answered
    server.delay = 0.02
    # The stopping run takes its time to close its journal (a slow disk), so that the second
    # signal comes while it stops.
    slow_close = (
        f"{PRELUDE}\nimport time, evolkit.engine.journal as j\n_close = j.Journal.aclose\n"
        "async def aclose(self):\n    time.sleep(2.0)\n    await _close(self)\n"
        "j.Journal.aclose = aclose"
    )
    argv = _evolve(seeds, out, server.url)
    proc = _signal_when(argv, lambda: journaled(out) >= 5, signal.SIGTERM, prelude=slow_close)
    time.sleep(0.5)
    assert proc.poll() is None, "the run stopped before the second signal"
    stopping = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _stopped_cleanly(proc, "a second signal while stopping")
    assert time.monotonic() - stopping < 1.5  # at once, not after the slow close
    time.sleep(0.3)
    kept, before = journaled(out), server.answered
    assert main(argv) == 0
    assert server.answered - before == calls - kept  # nothing journaled is asked again
    assert sorted(out.read_text().splitlines()) == clean_rows
