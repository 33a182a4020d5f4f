"""A finished run read back from disk: its rows, its drops, its counts and its settings.

A run that wrote ``OUT`` leaves ``OUT`` (the data set), ``OUT.run.json`` (counts and settings)
and ``OUT.evolkit/`` (per-round rows and ``drops-000r.jsonl``); :func:`load_run` reads all
three. A run made in memory (no ``output=``) becomes a :class:`RunData` with
:meth:`RunData.from_result`.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from evolkit._types import Instruction, lineage_of
from evolkit.engine.preflight import check_data_file
from evolkit.engine.stats import Drop, RunStats
from evolkit.engine.workdir import WorkDir, summary_path
from evolkit.io import iter_jsonl

if TYPE_CHECKING:
    from evolkit.engine.result import RunResult

__all__ = ["RunData", "load_run", "sample_chains"]


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


def load_run(output: str | os.PathLike[str]) -> RunData:
    """Read the run that wrote ``output``: ``OUT``, ``OUT.run.json`` and ``OUT.evolkit/``.

    Only ``OUT`` is required; without ``OUT.run.json`` the counts are recounted from the rows,
    and without the work directory the report has no drops.
    """
    out = Path(output)
    check_data_file(out, jsonl=True, fix="pass the data set a run wrote (its -o path)")
    rows = tuple(Instruction.from_record(r) for r in _read_jsonl(out))
    report = summary_path(out)
    settings: Mapping[str, Any] = {}
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        stats = RunStats.from_json(data["stats"])
        settings = data.get("settings", {})
    else:
        from evolkit.summary import load_stats

        stats = load_stats(out)
    workdir = WorkDir.for_output(out).path
    drops: list[Drop] = []
    if workdir.is_dir():
        for path in sorted(workdir.glob("drops-*.jsonl")):
            drops.extend(Drop.from_record(r) for r in _read_jsonl(path))
    return RunData(rows=rows, drops=tuple(drops), stats=stats, settings=settings, output=out)


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
