"""The three small protocols a plugin implements: :class:`Mutator`, :class:`Filter`, :class:`Backend`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from evolkit._types import ChatMessage, Completion, Instruction, Rejected, Verdict

__all__ = ["Backend", "Filter", "Mutator"]


@runtime_checkable
class Mutator(Protocol):
    """Asks the model to rewrite one instruction, and reads the rewrite back.

    ``name`` is unique across plugins (for example ``"depth.add_constraints"``); ``kind`` groups
    mutators (``"depth"``, ``"breadth"``, or a plugin's own word). The engine draws which mutator
    evolves an instruction, calls :meth:`build_messages`, sends the messages to the backend, and
    hands the reply to :meth:`parse`.
    """

    @property
    def name(self) -> str:
        """Unique across plugins, e.g. ``"depth.add_constraints"``."""
        ...

    @property
    def kind(self) -> str:
        """A group of operators: ``"depth"``, ``"breadth"`` or a plugin's own word."""
        ...

    def applies_to(self, instruction: Instruction) -> bool:
        """Whether this mutator can evolve ``instruction`` (for example: it carries data)."""
        ...

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        """The chat messages that ask the model to evolve ``instruction``.

        ``rng`` is seeded by the engine per instruction and round, so any choice made with it
        is reproducible.
        """
        ...

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        """The evolved instruction in ``reply``, or :class:`Rejected` saying why there is none.

        Return ``parent.derive(text)``; the engine fills in the lineage.
        """
        ...


@runtime_checkable
class Filter(Protocol):
    """Judges one evolved candidate (with its parent and response) and returns a :class:`Verdict`.

    ``needs_response`` says whether the filter reads ``candidate.response``; the engine skips
    such filters when responses are turned off. A filter may call the model through ``backend``.
    """

    @property
    def name(self) -> str:
        """Unique across plugins, e.g. ``"refusal"``."""
        ...

    @property
    def needs_response(self) -> bool:
        """Whether :meth:`judge` reads ``candidate.response``."""
        ...

    async def judge(
        self, candidate: Instruction, parent: Instruction, backend: Backend
    ) -> Verdict:
        """Keep or drop ``candidate``, with a reason."""
        ...


@runtime_checkable
class Backend(Protocol):
    """Anything that answers chat messages: messages in, text plus usage and cost out.

    Raise :class:`evolkit.errors.ModelError` for a failed call (``retryable=True`` for rate
    limits, timeouts, connection errors and server errors).
    """

    @property
    def model(self) -> str:
        """The model this backend talks to (part of every request's journal key)."""
        ...

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        """Answer ``messages``; ``params`` are sampling parameters such as ``temperature``."""
        ...
