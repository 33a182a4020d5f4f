"""``max_cost``: a run stops before it would spend more than its budget on new calls.

Each call not answered from disk holds its worst case (its prompt, at about three characters a
token, plus its ``max_tokens``, at the run's prices) while it is in flight, and is charged
what it really cost when it returns. A call whose worst case would take spent plus held past
the budget is not made: the run waits for the calls already in flight (they are journaled),
then stops with :class:`BudgetExhausted`. Running it again resumes from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from evolkit._types import ChatMessage, Completion
from evolkit.backends._prices import Prices
from evolkit.errors import EvolkitError

__all__ = ["Budget", "BudgetExhausted"]

#: The completion length assumed for a call that sets no ``max_tokens``.
DEFAULT_MAX_TOKENS = 4096


class BudgetExhausted(EvolkitError):
    """The next call could pass ``max_cost``; the run stopped with its finished calls saved."""


class Budget:
    """Money left for new calls in this run (``limit`` dollars), at ``prices``."""

    def __init__(self, limit: float, prices: Prices, *, batch: bool = False) -> None:
        self.limit = limit
        self.prices = prices
        self.batch = batch
        self.spent = 0.0
        self.held = 0.0
        self.in_flight = 0
        self.stopped = False
        self._idle = asyncio.Event()
        self._idle.set()

    def worst_case(self, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> float:
        chars = sum(len(str(m.get("content") or "")) for m in messages)
        prompt = chars // 3 + 4 * len(messages) + 3
        limit = params.get("max_completion_tokens") or params.get("max_tokens")
        completion = int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_TOKENS
        return self.prices.cost(prompt, completion, batch=self.batch)

    @contextlib.asynccontextmanager
    async def hold(
        self, messages: Sequence[ChatMessage], params: Mapping[str, Any]
    ) -> AsyncIterator[Callable[[Completion], Completion]]:
        """Admit one call, or wait for the calls in flight and raise :class:`BudgetExhausted`.

        The caller passes the call's completion to the yielded function to charge it.
        """
        worst = self.worst_case(messages, params)
        if self.stopped or self.spent + self.held + worst > self.limit:
            self.stopped = True
            await self._idle.wait()
            raise BudgetExhausted(
                f"stopped before passing --max-cost ${self.limit:g}: ${self.spent:.4f} spent on "
                "new calls, all of them saved; run the same command again (with a larger "
                "--max-cost) to go on from there"
            )
        self.held += worst
        self.in_flight += 1
        self._idle.clear()

        def charge(completion: Completion) -> Completion:
            usage = completion.usage
            priced = self.prices.cost(
                usage.prompt_tokens, usage.completion_tokens, batch=self.batch
            )
            self.spent += usage.cost or priced
            return completion

        try:
            yield charge
        finally:
            self.held -= worst
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()
