"""Every command that reads a data set checks what it was given first (a pipe, a symlink loop,
a directory, an empty file, a JSON array where JSONL is needed) and says so in one line, exit
2, without hanging, tracebacks or files left behind; so do a full disk under the journal of
``score`` and a temperature that is not a number."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction

READERS = {
    "filter": ["filter", "{data}", "-o", "{tmp}/f.jsonl", "--filters", "near_copy"],
    "export": ["export", "{data}", "{tmp}/e.json", "--format", "alpaca"],
    "score": ["score", "{data}", "-o", "{tmp}/s.jsonl", "--scores", "complexity", "-q"],
    "select": ["select", "{data}", "-o", "{tmp}/x.jsonl", "--budget", "1", "--by", "complexity"],
    "report": ["report", "{data}"],
    "stats": ["stats", "{data}"],
}
KINDS = {
    "pipe": "is a pipe (FIFO)",
    "symlink-loop": "symlink loop",
    "directory": "is a directory",
    "empty": "the file has no rows",
    "blank-lines": "the file has no rows",
}


def one_line(err: list[str], words: str) -> None:
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert words in err[0] and "Traceback" not in err[0], err


@contextlib.contextmanager
def unblocked(fifo: Path, after: float = 5.0) -> Iterator[None]:
    """A reader stuck on ``fifo`` is let go after ``after`` s (so a hang fails, not stalls)."""
    done = threading.Event()

    def release() -> None:
        while not done.wait(after):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(after + 1)


def make_input(kind: str, tmp_path: Path) -> Path:
    data = tmp_path / "data.jsonl"
    if kind == "pipe":
        os.mkfifo(data)  # nobody ever writes to it
    elif kind == "symlink-loop":
        data.symlink_to(tmp_path / "other.jsonl")
        (tmp_path / "other.jsonl").symlink_to(data)
    elif kind == "directory":
        data.mkdir()
    else:
        data.write_text("" if kind == "empty" else "\n  \n\n")
    return data


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("command", sorted(READERS))
def test_each_reader_names_what_it_was_given(
    command: str, kind: str, tmp_path: Path, cli: Any
) -> None:
    data = make_input(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [part.format(data=data, tmp=tmp_path) for part in READERS[command]]
    with unblocked(data) if kind == "pipe" else contextlib.nullcontext():
        code, err, elapsed = cli(argv)
    assert elapsed < 4  # at once: no wait on the pipe
    assert code == 2
    one_line(err, KINDS[kind])
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_evolve_waits_a_bounded_time_for_a_pipe_nobody_writes_to(
    tmp_path: Path, server: Any, good_key: str, cli: Any, evolve_argv: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from evolkit.engine import preflight

    monkeypatch.setattr(preflight, "PIPE_WAIT_S", 0.3)
    seeds = make_input("pipe", tmp_path)
    out = tmp_path / "out.jsonl"
    with unblocked(seeds):
        code, err, _ = cli(evolve_argv(seeds, out, server.url))
    assert code == 2
    one_line(err, "is a pipe nothing was written to in 0.3 s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]  # no work directory
    assert server.posts == 0


@pytest.mark.parametrize("command", ["score", "select"])
def test_a_json_array_given_to_score_or_select_is_one_line(
    command: str, tmp_path: Path, cli: Any
) -> None:
    data = tmp_path / "data.jsonl"
    rows = [Instruction(text=f"Name {n} rivers.").to_record() for n in ("two", "three")]
    data.write_text(json.dumps(rows))
    code, err, _ = cli([part.format(data=data, tmp=tmp_path) for part in READERS[command]])
    assert code == 2
    one_line(err, "is a JSON array, not JSONL")


def test_a_full_disk_under_the_score_journal_is_one_line_and_resumes(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evolkit.engine.journal import Journal

    data = tmp_path / "data.jsonl"
    rows = [Instruction(text=f"Plan a trip to town {i}.", response="Go by bus.") for i in range(4)]
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in rows))
    real = Journal._commit

    def full(self: Journal, batch: list[tuple[str, str]]) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    argv = ["score", str(data), "-o", str(tmp_path / "s.jsonl"), "--scores", "quality", "-q"]
    argv += ["--model", "fake/judge", "--cache", "off"]
    monkeypatch.setattr(Journal, "_commit", full)
    code, err, _ = cli(argv)
    assert code == 2
    one_line(err, "the disk is full")
    assert not (tmp_path / "s.jsonl").exists()  # no scores made up for the rows
    monkeypatch.setattr(Journal, "_commit", real)
    code, err, _ = cli(argv)
    assert code == 0, err
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert all("quality" in json.loads(line)["metadata"]["scores"] for line in lines)


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_temperature_that_is_not_a_usable_number_is_refused(
    value: str, tmp_path: Path, server: Any, good_key: str, cli: Any, evolve_argv: Any
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Plan a walk.\n")
    code, err, _ = cli(
        [*evolve_argv(seeds, tmp_path / "o.jsonl", server.url), "--temperature", value]
    )
    assert code == 2
    one_line(err, "temperature must be")
    assert server.posts == 0
