"""Seed rows that share an ``id``: exact repeats are dropped and counted; rows that share a
user-supplied id but differ are refused, renamed or dropped as the user chose, never silently."""

from __future__ import annotations

import attrs

from evolkit._types import Instruction, content_id
from evolkit.errors import ConfigError

__all__ = ["SeedDeduper"]

_SHOWN = 8


class SeedDeduper:
    """Admits seed rows one by one (``policy``: ``error``, ``rename`` or ``drop``)."""

    def __init__(self, policy: str, source: str) -> None:
        self.policy = policy
        self.source = source
        self._first: dict[str, tuple[int, str]] = {}
        self.repeats = 0  # identical rows dropped
        self.conflicts: list[tuple[str, int, int]] = []  # (id, first row, this row)

    def admit(self, row: int, inst: Instruction) -> Instruction | None:
        """The row to keep (perhaps with a fresh id), or None to leave it out."""
        content = content_id(inst.text, inst.input)
        seen = self._first.get(inst.id)
        if seen is None:
            self._first[inst.id] = (row, content)
            return inst
        if seen[1] == content:
            self.repeats += 1
            return None
        self.conflicts.append((inst.id, seen[0], row))
        if self.policy != "rename" or content in self._first:
            return None
        self._first[content] = (row, content)
        return attrs.evolve(inst, id=content)

    def finish(self) -> None:
        """Refuse the input when rows share an id and the policy is ``error``."""
        if not self.conflicts or self.policy != "error":
            return
        shown = ", ".join(
            f"{id!r} (rows {first} and {row})" for id, first, row in self.conflicts[:_SHOWN]
        )
        more = f" and {len(self.conflicts) - _SHOWN} more" if len(self.conflicts) > _SHOWN else ""
        raise ConfigError(
            f"{self.source}: {len(self.conflicts)} rows reuse the id of a different row: "
            f"{shown}{more}; pass --duplicate-ids rename (keep both, fresh ids) or "
            "--duplicate-ids drop (keep the first)"
        )

    @property
    def dropped(self) -> int:
        """Rows left out: identical repeats, and conflicting rows unless renamed."""
        renamed = self.policy == "rename"
        return self.repeats + (0 if renamed else len(self.conflicts))
