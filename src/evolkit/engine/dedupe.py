"""The duplicate rules of a run, in one place.

A child is a duplicate when a row with its content id was kept before: in an earlier round
(``seen_before``: the seeds and the kept rows, also sent to each Ray worker) or earlier in this
round (``seen_now``); or when a pool rule (:class:`~evolkit.PoolFilter`, ``near_duplicate``)
finds it nearly repeats a row of another lineage. The exact check runs twice in a round on
purpose: once where the item is evolved, before its response is paid for (:meth:`repeat`), and
once in the run's ordered stream, where rows of the same round meet (:meth:`admit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evolkit._protocols import PoolFilter
from evolkit._types import Instruction
from evolkit.engine.stats import Drop

__all__ = ["Dedupe"]


def _drop(
    child: Instruction,
    parent_id: str,
    filter: str,
    reason: str,
    metadata: Mapping[str, Any] | None = None,
) -> Drop:
    return Drop(
        child.round,
        parent_id,
        child.operator or "",
        "dedupe",
        filter,
        reason,
        child.text,
        metadata=metadata or {},
    )


class Dedupe:
    """The ids kept so far and the pool rules' indexes of one run."""

    def __init__(self, pool_filters: Iterable[PoolFilter] = ()) -> None:
        self.indexes = [f.new_index() for f in pool_filters]
        self.seen_before: set[str] = set()
        self.seen_now: set[str] = set()

    def remember(self, instruction: Instruction) -> None:
        """Mark a seed or a row kept in an earlier round as seen, in every index."""
        self.seen_before.add(instruction.id)
        for index in self.indexes:
            index.add(instruction)

    def repeat(self, child: Instruction, parent_id: str) -> Drop | None:
        """The ``duplicate`` drop of ``child`` if a row with its id was kept, else None."""
        if child.id in self.seen_before or child.id in self.seen_now:
            return _drop(child, parent_id, "engine", "duplicate")
        return None

    def admit(self, child: Instruction, parent_id: str) -> Drop | None:
        """The drop of ``child`` as a repeat or by a pool rule, else None: it is then kept
        and remembered for the rest of the round."""
        drop = self.repeat(child, parent_id)
        if drop is not None:
            return drop
        for index in self.indexes:
            verdict = index.check(child)
            if not verdict.keep:
                return _drop(child, parent_id, verdict.filter, verdict.reason, verdict.metadata)
        for index in self.indexes:
            index.add(child)
        self.seen_now.add(child.id)
        return None

    def close_round(self) -> None:
        """The rows kept this round count as earlier rounds' from now on."""
        self.seen_before |= self.seen_now
        self.seen_now = set()
