"""The files of a run on disk: seeds, per-round rows, pools and drops, journal, state.

``OUT.evolkit/`` beside the output holds::

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from evolkit._types import Instruction
from evolkit.engine.lock import LOCK_FILES
from evolkit.engine.stats import Drop
from evolkit.io import atomic_writer

__all__ = ["WorkDir", "read_jsonl"]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


class WorkDir:
    def __init__(self, path: Path) -> None:
        self.path = path

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

    def read_state(self) -> dict[str, Any] | None:
        path = self.file("state.json")
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def write_state(self, state: Mapping[str, Any]) -> None:
        with atomic_writer(self.file("state.json")) as fh:
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

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def clear(self, keep: frozenset[str] | set[str] = frozenset()) -> None:
        """Delete the run's files, except those named in ``keep``."""
        if self.path.exists():
            for child in self.path.iterdir():
                if child.name not in keep and child.name not in LOCK_FILES:
                    os.unlink(child)
