"""The files of a run on disk: seeds, per-round rows, pools and drops, journal, state.

Every name of a run's artefacts is made here: ``OUT`` (the data set), ``OUT.run.json`` (counts
and settings, :func:`summary_path`) and the work directory ``OUT.evolkit/``
(:meth:`WorkDir.for_output`), which holds::

    state.json          fingerprint, completed rounds, counts (written atomically)
    journal.sqlite      every finished model call (WAL, fsync.d on commit)
    seeds.jsonl         the seeds as read, duplicates removed
    round-0000.jsonl    rows kept in round 0 (the seeds, with responses)
    pool-0000.jsonl     the pool entering round 1
    round-0001.jsonl …  rows kept in round r; pool-000r.jsonl; drops-000r.jsonl
"""

from __future__ import annotations

import json
import os
import random
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from evolkit._types import Instruction
from evolkit.engine.lock import LOCK_FILES
from evolkit.engine.stats import Drop
from evolkit.io import atomic_writer, iter_jsonl

__all__ = ["WorkDir", "read_jsonl", "summary_path"]

WORKDIR_SUFFIX = ".evolkit"
SUMMARY_SUFFIX = ".run.json"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of one of the run's JSONL files (see :func:`evolkit.io.iter_jsonl`)."""
    for _, record in iter_jsonl(path, objects=True):
        yield record


def summary_path(output: Path) -> Path:
    """``OUT.run.json``: the counts and settings of the run that wrote ``output``."""
    return output.with_name(output.name + SUMMARY_SUFFIX)


class WorkDir:
    """The work directory of one run (see the module docstring for its files)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_output(cls, output: Path) -> WorkDir:
        """``OUT.evolkit/``, the work directory of the run that writes ``output``."""
        return cls(output.with_name(output.name + WORKDIR_SUFFIX))

    @classmethod
    def in_folder(cls, folder: Path) -> WorkDir:
        """The work directory of a run kept in memory, inside a temporary ``folder``."""
        return cls(folder / ("run" + WORKDIR_SUFFIX))

    @property
    def next_seeds(self) -> Path:
        """The seeds of the run being started, until its settings are checked."""
        return self.file("seeds.next.jsonl")

    @property
    def result(self) -> Path:
        """The shuffled rows of a run kept in memory."""
        return self.file("result.jsonl")

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def journal(self) -> Path:
        return self.file("journal.sqlite")

    @property
    def seeds(self) -> Path:
        return self.file("seeds.jsonl")

    def rows(self, round: int) -> Path:
        return self.file(f"round-{round:04d}.jsonl")

    def pool(self, round: int) -> Path:
        return self.file(f"pool-{round:04d}.jsonl")

    def drops(self, round: int) -> Path:
        return self.file(f"drops-{round:04d}.jsonl")

    @property
    def state(self) -> Path:
        """``state.json``: fingerprint, completed rounds and counts of the run."""
        return self.file("state.json")

    def read_state(self) -> dict[str, Any] | None:
        path = self.state
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def write_state(self, state: Mapping[str, Any]) -> None:
        with atomic_writer(self.state) as fh:
            json.dump(state, fh, indent=2, sort_keys=True)

    def instructions(self, path: Path) -> Iterator[Instruction]:
        for record in read_jsonl(path):
            yield Instruction.from_record(record)

    def all_drops(self, rounds: int) -> Iterator[Drop]:
        """Every drop of rounds 1..``rounds``, then round 0's seeds left without a response."""
        for r in [*range(1, rounds + 1), 0]:
            path = self.drops(r)
            if path.exists():
                for record in read_jsonl(path):
                    yield Drop.from_record(record)

    def write_shuffled(self, rounds: int, seed: int, target: Path) -> int:
        """Write every kept row of rounds 0..``rounds`` to ``target`` in a seeded random order.

        Only the byte offsets are held in memory (8 bytes a row), so a million rows need ~8 MB.
        """
        files = [self.rows(r) for r in range(rounds + 1)]
        offsets = array("Q")
        for index, path in enumerate(files):
            position = 0
            with path.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        offsets.append((index << 48) | position)
                    position += len(line)
        order = offsets.tolist()
        random.Random(f"evolkit-shuffle:{seed}").shuffle(order)
        handles = [path.open("rb") for path in files]
        try:
            with atomic_writer(target, "wb") as out:
                for packed in order:
                    fh = handles[packed >> 48]
                    fh.seek(packed & ((1 << 48) - 1))
                    out.write(fh.readline())
        finally:
            for fh in handles:
                fh.close()
        return len(order)

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def clear(self, keep: frozenset[str] | set[str] = frozenset()) -> None:
        """Delete the run's files, except those named in ``keep``."""
        if self.path.exists():
            for child in self.path.iterdir():
                if child.name not in keep and child.name not in LOCK_FILES:
                    os.unlink(child)
