"""Calling one filter on one candidate, with the prompt that made it where the filter reads it.

Outside the ``filters`` package so that the engine reaches it without loading every built-in
filter at ``import evolkit``.
"""

from __future__ import annotations

from collections.abc import Sequence

from evolkit._protocols import Backend, Filter, PromptAwareFilter
from evolkit._types import ChatMessage, Instruction, Verdict

__all__ = ["apply_filter"]


async def apply_filter(
    flt: Filter,
    candidate: Instruction,
    parent: Instruction,
    backend: Backend,
    prompt: Sequence[ChatMessage] | None = None,
) -> Verdict:
    """``flt``'s verdict on ``candidate``; a :class:`PromptAwareFilter` also gets ``prompt``."""
    if prompt is not None and isinstance(flt, PromptAwareFilter):
        return await flt.judge_prompted(candidate, parent, backend, prompt)
    return await flt.judge(candidate, parent, backend)
