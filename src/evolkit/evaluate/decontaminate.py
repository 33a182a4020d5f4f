"""The ``decontaminate`` filter: drop an evolved row that overlaps a benchmark's test items.

Built from a benchmark file (GSM8K, MATH, HumanEval, MBPP or any JSONL with a text field; see
:mod:`evolkit.evaluate._benchmarks`) with the same word n-gram index as
``evolkit eval contamination``, so a row the check would flag never enters the data set. It
reads the instruction, its input and, when there is one, the response; a drop is counted as
``benchmark_overlap``. ``evolkit evolve --decontaminate FILE`` adds it after the other filters.
Seeds are never dropped by a run: check them with ``evolkit eval contamination``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from evolkit._plugins import Plugins
from evolkit._protocols import Backend
from evolkit._registry import FilterRegistry
from evolkit._types import Instruction, Verdict
from evolkit.engine.config import split_names
from evolkit.evaluate._benchmarks import Benchmark
from evolkit.evaluate._contamination import NgramIndex, load_test_set
from evolkit.hookspecs import hookimpl

__all__ = ["DecontaminationFilter", "with_decontamination"]


class DecontaminationFilter:
    """Drops a candidate sharing at least ``min_shared`` word ``n``-grams with a test item."""

    name = "decontaminate"
    needs_response = False

    def __init__(
        self,
        benchmark: str | os.PathLike[str] | Benchmark,
        *,
        n: int = 13,
        min_shared: int = 1,
        include_solutions: bool = False,
        layout: str = "auto",
        text_field: str | None = None,
    ) -> None:
        self.benchmark = load_test_set(benchmark, layout=layout, text_field=text_field)
        self.index = NgramIndex(self.benchmark, n, include_solutions)
        self.min_shared = min_shared

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        text = "\n".join(p for p in (candidate.text, candidate.input, candidate.response) if p)
        shared = self.index.shared(text)
        if any(count >= self.min_shared for count in shared.values()):
            return Verdict.dropped(self.name, "benchmark_overlap")
        return Verdict.kept(self.name)


class _DecontaminationPlugin:
    def __init__(self, flt: DecontaminationFilter) -> None:
        self.filter = flt

    @hookimpl
    def evolkit_register_filters(self, registry: FilterRegistry) -> None:
        registry.add(self.filter, default=False)


def with_decontamination(
    benchmark: str | os.PathLike[str] | Benchmark,
    filters: Sequence[str] | str | None = None,
    plugins: Plugins | None = None,
    *,
    n: int = 13,
    layout: str = "auto",
    text_field: str | None = None,
) -> tuple[Plugins, list[str]]:
    """Plugins with a ``decontaminate`` filter for ``benchmark``, and the filter names to run:
    ``filters`` (default: the default filters), then ``decontaminate``.

    >>> plugins, names = with_decontamination("humaneval.jsonl")  # doctest: +SKIP
    >>> evolkit.evolve(seeds, plugins=plugins, filters=names)  # doctest: +SKIP
    """
    flt = DecontaminationFilter(benchmark, n=n, layout=layout, text_field=text_field)
    base = plugins if plugins is not None else Plugins.load()
    given = split_names(filters)
    names = list(given) if given is not None else base.filters().defaults()
    base.register(_DecontaminationPlugin(flt), name="decontaminate")
    return base, [*(n for n in names if n != flt.name), flt.name]
