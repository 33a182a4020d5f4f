"""Running the eliminator again over an existing data set, without regenerating it.

:func:`refilter` judges every row that names a parent (``parent_id``) found in the same data
set with the chosen filters, in the engine's order: the per-candidate rules, stopping at the
first drop, then the pool rules (``near_duplicate``) in round order. A row without a parent
in the data set (a seed, or any row of a plain Alpaca file) is judged by the response rules
(filters with ``needs_response``) and the pool rules only. The prompt a ``template_leak`` check
needs is rebuilt from the row's operator (see :func:`operator_prompt`).

With a ``journal`` path, every model call goes through the engine's call runner (retries,
concurrency, timeout) and is journaled there, so a judging run that was stopped or killed is
run again without sending a finished call twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen

from evolkit._filter_call import apply_filter
from evolkit._protocols import (
    Backend,
    Filter,
    LoopBoundBackend,
    ModelJudge,
    Mutator,
    PoolFilter,
    PromptTextMutator,
)
from evolkit._types import ChatMessage, Completion, Instruction, Verdict
from evolkit.engine._loop import blocking
from evolkit.errors import ConfigError

if TYPE_CHECKING:
    from evolkit.engine.calls import CallRunner

__all__ = [
    "NoModel",
    "RowVerdicts",
    "arefilter",
    "calls_model",
    "drop_counts",
    "operator_prompt",
    "refilter",
]


class NoModel:
    """The backend of a run without a model: any call is a configuration error."""

    model = "none"

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        raise ConfigError("a filter called the model: pass --model to run model-based rules")


class JournaledBackend:
    """What a filter sees as its backend when its calls are journaled: every call goes
    through ``runner`` (the journal first, then the model within the run's limits)."""

    def __init__(self, runner: CallRunner) -> None:
        self._runner = runner
        self.model = runner.backend.model

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        completion, _ = await self._runner.call(messages, params)
        return completion


async def _journaled(
    stack: contextlib.AsyncExitStack[Any],
    backend: Backend,
    journal: Path,
    concurrency: int,
    retries: int,
) -> Backend:
    """``backend`` behind a call runner over the journal at ``journal`` (engine/calls.py)."""
    from evolkit.engine.cache import scope_digest
    from evolkit.engine.calls import CallRunner, open_stores
    from evolkit.engine.config import EvolveConfig
    from evolkit.engine.plan import fit_to_backend

    store, _ = open_stores(stack, journal, None)
    runner = CallRunner.from_config(
        fit_to_backend(EvolveConfig(concurrency=concurrency, retries=retries), backend),
        backend,
        store,
    )
    runner.run_id = scope_digest(backend)  # another model or server: other journal keys
    return JournaledBackend(runner)


def calls_model(flt: Filter) -> bool:
    """Whether ``flt`` declares that it asks the model (see :class:`ModelJudge`)."""
    return isinstance(flt, ModelJudge) and bool(flt.calls_model)


def operator_prompt(mutator: Mutator | None, parent: Instruction) -> list[ChatMessage] | None:
    """The prompt wording of ``mutator``: its declared texts, else messages built for ``parent``."""
    if mutator is None:
        return None
    if isinstance(mutator, PromptTextMutator):
        return [ChatMessage(role="user", content=text) for text in mutator.prompt_texts]
    return mutator.build_messages(parent, random.Random(0))


@frozen
class RowVerdicts:
    """One row after judging: the row (metadata merged from keep verdicts) and every verdict."""

    row: Instruction
    verdicts: tuple[Verdict, ...]

    @property
    def kept(self) -> bool:
        return all(v.keep for v in self.verdicts)

    @property
    def drop(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.keep), None)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.row.id,
            "kept": self.kept,
            "verdicts": [
                {"filter": v.filter, "keep": v.keep, "reason": v.reason, "metadata": v.metadata}
                for v in self.verdicts
            ],
        }


async def _judge_row(
    row: Instruction,
    parent: Instruction,
    filters: Sequence[Filter],
    backend: Backend,
    prompt: Sequence[ChatMessage] | None,
) -> RowVerdicts:
    verdicts: list[Verdict] = []
    for flt in filters:
        verdict = await apply_filter(flt, row, parent, backend, prompt)
        verdicts.append(verdict)
        if not verdict.keep:
            break
        if verdict.metadata:
            row = attrs.evolve(row, metadata={**row.metadata, **verdict.metadata})
    return RowVerdicts(row, tuple(verdicts))


async def arefilter(
    rows: Iterable[Instruction],
    filters: Sequence[Filter],
    *,
    backend: Backend | None = None,
    mutators: Mapping[str, Mutator] | None = None,
    concurrency: int = 8,
    journal: Path | None = None,
    retries: int = 4,
) -> list[RowVerdicts]:
    """Judge every row of ``rows`` (see the module); results in round order, then file order.
    With ``journal``, the model calls are journaled there, each retried up to ``retries``
    times (see the module)."""
    async with contextlib.AsyncExitStack() as stack:
        if backend is not None and journal is not None:
            judged = await _journaled(stack, backend, journal, concurrency, retries)
            return await _judge_all(rows, filters, judged, backend, mutators, concurrency)
        return await _judge_all(rows, filters, backend, backend, mutators, concurrency)


async def _judge_all(
    rows: Iterable[Instruction],
    filters: Sequence[Filter],
    backend: Backend | None,
    owner: Backend | None,
    mutators: Mapping[str, Mutator] | None,
    concurrency: int,
) -> list[RowVerdicts]:
    """:func:`arefilter` with the filters' ``backend``; ``owner`` is the backend it wraps."""
    ordered = sorted(rows, key=lambda r: r.round)
    by_id = {r.id: r for r in ordered}
    per_row = [f for f in filters if not isinstance(f, PoolFilter)]
    indexes = [f.new_index() for f in filters if isinstance(f, PoolFilter)]
    model: Backend = backend if backend is not None else NoModel()
    limit = asyncio.Semaphore(concurrency)

    async def judge(row: Instruction) -> RowVerdicts:
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        async with limit:
            if parent is None:
                response_rules = [f for f in per_row if f.needs_response]
                return await _judge_row(row, row, response_rules, model, None)
            mutator = (mutators or {}).get(row.operator or "")
            prompt = operator_prompt(mutator, parent)
            return await _judge_row(row, parent, per_row, model, prompt)

    tasks = [asyncio.ensure_future(judge(r)) for r in ordered]
    try:
        results = await asyncio.gather(*tasks)
    finally:
        for task in tasks:  # one failed: the others stop before the connections close
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        held: object = owner
        if isinstance(held, LoopBoundBackend):
            await held.release_connections()  # before this event loop ends
    out: list[RowVerdicts] = []
    for result in results:
        if result.kept:
            for index in indexes:
                verdict = index.check(result.row)
                result = RowVerdicts(result.row, (*result.verdicts, verdict))
                if not verdict.keep:
                    break
        if result.kept:
            for index in indexes:
                index.add(result.row)
        out.append(result)
    return out


refilter = blocking(arefilter, "refilter")
"""Blocking :func:`arefilter`; works inside a running event loop (Jupyter) too."""


def drop_counts(results: Iterable[RowVerdicts]) -> Counter[str]:
    """Dropped rows per ``filter:reason``."""
    return Counter(f"{d.filter}:{d.reason}" for r in results if (d := r.drop) is not None)
