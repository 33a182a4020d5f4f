"""A finished run read back from disk: its rows, its drops, its counts and its settings.

A run that wrote ``OUT`` leaves ``OUT`` (the data set), ``OUT.run.json`` (counts and settings)
and ``OUT.evolkit/`` (per-round rows and ``drops-000r.jsonl``); :func:`load_run` reads all
three. A run made in memory (no ``output=``) becomes a :class:`RunData` with
:meth:`RunData.from_result`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from evolkit._types import Instruction, lineage_of
from evolkit.engine.preflight import check_data_file
from evolkit.engine.stats import Drop, RunStats
from evolkit.engine.workdir import WorkDir, summary_path
from evolkit.errors import SeedFileError
from evolkit.io import iter_jsonl

if TYPE_CHECKING:
    from evolkit.engine.result import RunResult

__all__ = ["RunData", "iter_drops", "iter_rows", "load_run", "read_summary", "sample_chains"]


@frozen(kw_only=True)
class RunData:
    """Everything a report shows about one run."""

    rows: tuple[Instruction, ...]
    drops: tuple[Drop, ...] = ()
    stats: RunStats = field(factory=RunStats)
    settings: Mapping[str, Any] = field(factory=dict)
    output: Path | None = None

    @classmethod
    def from_result(cls, result: RunResult) -> RunData:
        """The rows, drops and counts of a :class:`~evolkit.RunResult`."""
        settings: Mapping[str, Any] = {}
        if result.output is not None:
            report = summary_path(result.output)
            if report.exists():
                settings = json.loads(report.read_text(encoding="utf-8")).get("settings", {})
        return cls(
            rows=tuple(result),
            drops=tuple(result.iter_drops()),
            stats=result.stats,
            settings=settings,
            output=result.output,
        )

    @property
    def rounds(self) -> list[int]:
        """The rounds present in the rows, seeds (round 0) first."""
        return sorted({inst.round for inst in self.rows} | set(self.stats.rows_per_round))

    def by_round(self) -> dict[int, list[Instruction]]:
        out: dict[int, list[Instruction]] = {r: [] for r in self.rounds}
        for inst in self.rows:
            out.setdefault(inst.round, []).append(inst)
        return out

    def drops_per_round(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for drop in self.drops:
            out[drop.round] = out.get(drop.round, 0) + 1
        return out

    def lineage(self, id: str) -> list[Instruction]:
        """The chain from the seed to ``id``, seed first."""
        return lineage_of({inst.id: inst for inst in self.rows}, id)


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    for _, record in iter_jsonl(path, objects=True, hint="pass the -o path of a run"):
        yield record


def _missing(out: Path) -> SeedFileError:
    return SeedFileError(
        str(out), None, "file not found", "pass the data set a run wrote (its -o path)"
    )


def read_summary(output: str | os.PathLike[str]) -> tuple[RunStats, Mapping[str, Any]]:
    """The counts and settings of the run that wrote ``output``, from ``OUT.run.json``.

    Without it the counts are recounted from ``OUT`` and there are no settings; a run still
    going (no ``OUT`` yet) has empty counts.
    """
    out = Path(output)
    report = summary_path(out)
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        return RunStats.from_json(data["stats"]), data.get("settings", {})
    if not out.is_file():
        return RunStats(), {}
    from evolkit.summary import load_stats

    return load_stats(out), {}


def _running_rounds(out: Path) -> list[Path]:
    """The per-round rows of a run that has not written ``OUT`` yet, round 0 first."""
    workdir = WorkDir.for_output(out)
    present = itertools.takewhile(Path.is_file, (workdir.rows(r) for r in itertools.count()))
    return list(present)


def iter_rows(output: str | os.PathLike[str]) -> Iterator[Instruction]:
    """The kept rows of the run that wrote ``output``, in file order.

    A run still going has no ``OUT`` yet: its rows so far are read from ``OUT.evolkit/``.
    """
    out = Path(output)
    paths = [out] if out.is_file() else _running_rounds(out)
    if not paths:
        raise _missing(out)
    for path in paths:
        for record in _read_jsonl(path):
            yield Instruction.from_record(record)


def iter_drops(output: str | os.PathLike[str]) -> Iterator[Drop]:
    """The drops the run that wrote ``output`` recorded, round by round (none without its
    work directory)."""
    workdir = WorkDir.for_output(Path(output)).path
    if not workdir.is_dir():
        return
    for path in sorted(workdir.glob("drops-*.jsonl")):
        for record in _read_jsonl(path):
            yield Drop.from_record(record)


def load_run(output: str | os.PathLike[str]) -> RunData:
    """Read the run that wrote ``output``: ``OUT``, ``OUT.run.json`` and ``OUT.evolkit/``.

    Only ``OUT`` is required (or, while the run is going, its work directory); without
    ``OUT.run.json`` the counts are recounted from the rows, and without the work directory the
    report has no drops.
    """
    out = Path(output)
    if out.is_symlink() or out.exists():  # a running run has only its work directory
        check_data_file(out, jsonl=True, fix="pass the data set a run wrote (its -o path)")
    rows = tuple(iter_rows(out))
    stats, settings = read_summary(out)
    drops = tuple(iter_drops(out))
    return RunData(rows=rows, drops=drops, stats=stats, settings=settings, output=out)


def sample_chains(run: RunData, k: int = 5, seed: int = 0) -> list[list[Instruction]]:
    """Up to ``k`` chains from a seed to an instruction of the last round, picked with ``seed``.

    Chains from distinct seeds are preferred, so the sample shows different topics.
    """
    if not run.rows:
        return []
    last = max(inst.round for inst in run.rows)
    finals = sorted((i for i in run.rows if i.round == last), key=lambda i: i.id)
    random.Random(seed).shuffle(finals)
    by_id = {inst.id: inst for inst in run.rows}
    chains: list[list[Instruction]] = []
    seen_roots: set[str] = set()
    spare: list[list[Instruction]] = []
    for inst in finals:
        chain = lineage_of(by_id, inst.id)
        if not chain:
            continue
        if chain[0].id in seen_roots:
            if len(spare) < k:
                spare.append(chain)
            continue
        seen_roots.add(chain[0].id)
        chains.append(chain)
        if len(chains) == k:
            return chains
    return chains + spare[: k - len(chains)]
