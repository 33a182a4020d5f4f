"""The optimizer model's side: analyse trajectories, then write ``m`` candidate methods.

Its calls go through a :class:`~evolkit.engine.calls.CallRunner` with the optimisation's own
journal, so they are retried, cached, counted and replayed on resume like the evolver's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from evolkit._markers import between
from evolkit._types import ChatMessage, Usage
from evolkit.auto import _prompts as prompts
from evolkit.auto._method import Method
from evolkit.auto._trajectory import Trajectory, render_trajectories
from evolkit.engine.calls import CallRunner
from evolkit.errors import ModelError

__all__ = ["Optimizer"]


class Optimizer:
    """Asks the optimizer model for feedback and for rewritten methods."""

    def __init__(self, runner: CallRunner, params: Mapping[str, Any]) -> None:
        self.runner = runner
        self.params = dict(params)
        self.usage = Usage(0, 0, 0.0)
        self.failures = 0

    async def _ask(self, system: str, user: str) -> str:
        messages: list[ChatMessage] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        completion, _ = await self.runner.call(messages, self.params)
        self.usage += completion.usage
        return completion.text.strip()

    async def analyse(self, method: Method, trajectories: Sequence[Trajectory]) -> str:
        """The problems the optimizer sees in the trajectories (its feedback, as text)."""
        user = prompts.ANALYSE.format(
            count=len(trajectories),
            method=method.prompt,
            trajectories=render_trajectories(trajectories),
        )
        return await self._ask(prompts.ANALYSE_SYSTEM, user)

    async def candidate(self, method: Method, feedback: str, draft: int, drafts: int) -> str | None:
        """One rewritten method prompt, or None when the reply holds no usable method."""
        user = prompts.REWRITE_METHOD.format(
            method=method.prompt, feedback=feedback, draft=draft, drafts=drafts
        )
        try:
            reply = await self._ask(prompts.REWRITE_METHOD_SYSTEM, user)
        except ModelError:
            self.failures += 1
            return None
        text = between(prompts.METHOD_TAG, reply)
        text = (text if text is not None else reply).strip()
        return text if len(text.split()) >= 5 else None

    async def candidates(
        self, method: Method, feedback: str, m: int, version: int
    ) -> list[Method | None]:
        """``m`` candidate methods, asked for in parallel (a failed one is None)."""
        texts = await asyncio.gather(
            *(self.candidate(method, feedback, k, m) for k in range(1, m + 1))
        )
        return [
            None if text is None else attrs.evolve(method, prompt=text, version=version)
            for text in texts
        ]
