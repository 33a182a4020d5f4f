"""The result of a run: the data set (in memory or on disk), its counts, and its drops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from attrs import field, frozen

from evolkit._types import Instruction, lineage_of
from evolkit.engine.stats import Drop, RunStats

__all__ = ["RunResult"]


@frozen(kw_only=True)
class RunResult:
    """What :func:`evolkit.evolve` returns.

    Iterating yields the rows (seeds and survivors, shuffled). A run with an output path keeps
    its rows on disk and reads them on demand; one without holds them in ``rows``.
    """

    stats: RunStats
    output: Path | None = None
    workdir: Path | None = None
    rows: tuple[Instruction, ...] | None = field(default=None, repr=False)
    drops: tuple[Drop, ...] | None = field(default=None, repr=False)
    #: True when the run had finished before this call: nothing was done.
    already_complete: bool = False

    def __iter__(self) -> Iterator[Instruction]:
        if self.rows is not None:
            yield from self.rows
            return
        if self.output is None:
            return
        from evolkit.io import read_instructions

        yield from read_instructions(self.output, "jsonl")

    def __len__(self) -> int:
        return self.stats.rows

    def iter_drops(self) -> Iterator[Drop]:
        """Every dropped evolution with its stage and reason, then the seeds whose response
        failed (stage ``respond_seed``; the seeds themselves are kept)."""
        if self.drops is not None:
            yield from self.drops
            return
        if self.workdir is not None:
            from evolkit.engine.workdir import WorkDir

            yield from WorkDir(self.workdir).all_drops(self.stats.rounds)

    def lineage(self, id: str) -> list[Instruction]:
        """The chain from the seed to instruction ``id`` (seed first)."""
        from evolkit._display import Lineage

        return Lineage(lineage_of({inst.id: inst for inst in self}, id))

    def _repr_html_(self) -> str:
        from evolkit._display import result_html

        return result_html(self)
