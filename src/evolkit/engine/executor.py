"""Where the evolutions of a round run: in this process, or spread over workers.

An :class:`Executor` turns a round's pool into :class:`Outcome` objects, yielded in pool order.
Each outcome depends only on the run's seed, the round and the parent, so any executor that
yields the same outcomes in the same order produces the same data set; the engine does all
writing, de-duplication and counting itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Protocol

from evolkit._types import Instruction
from evolkit.engine.ordered import ordered_map
from evolkit.engine.steps import Outcome, RoundContext

__all__ = ["Executor", "LocalExecutor"]


class Executor(Protocol):
    def outcomes(
        self, ctx: RoundContext, round: int, pool: Iterator[Instruction]
    ) -> AsyncIterator[Outcome]:
        """The outcome of evolving each pool item in ``round``, in pool order."""
        ...


class LocalExecutor:
    """Evolve in this process with at most ``window`` items in progress."""

    def __init__(self, window: int) -> None:
        self.window = window

    def outcomes(
        self, ctx: RoundContext, round: int, pool: Iterator[Instruction]
    ) -> AsyncIterator[Outcome]:
        async def step(index: int, parent: Instruction) -> Outcome:
            return await ctx.evolve_one(index, parent, round)

        return ordered_map(pool, step, self.window)
