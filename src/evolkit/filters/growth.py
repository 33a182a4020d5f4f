"""The ``growth`` filter: measures how much an in-depth rewrite grew, and drops only a runaway.

Evol-Instruct's prompts ask every in-depth step to add 10 to 20 words (WizardLM, arXiv
2304.12244), but the method's eliminator never drops a rewrite for its length, and neither
models nor good rewrites keep to the count: "How to prove 1 + 1 = 2 in the Goldbach
Conjecture?" adds 8 words to "1+1=?", a SQL query with four concrete conditions adds 35. So by
default growth is a measurement, not a verdict:

- every kept depth rewrite records how many words its instruction text gained and where that
  falls against the method's target (``metadata["growth"] = {"added_words": 14, "target":
  "within"}``; ``"below"`` or ``"above"`` otherwise), for ``evolkit select`` and
  ``evolkit score`` to rank by;
- a depth rewrite is dropped only when it is no longer one evolution of its parent: it added
  more than ``runaway_words`` (60) words *and* is more than ``runaway_ratio`` (4) times its
  parent's length (``runaway_growth``). A rewrite with no new words at all is left to
  ``near_copy`` and the judge.

The strict band the prompts ask for is a filter of its own, ``growth.band``
(:meth:`GrowthFilter.band_filter`), registered but not on by default: ``--filters`` names it.
``bands`` maps an operator name, or a prefix of names ending in ``.``, to ``(least, most)``
added words (the longest matching key wins); a rewrite outside its band is dropped as
``growth_too_small`` or ``growth_too_large``. Operators that match no key of ``depth``
(breadth, math, plugins' own) are kept without a growth record.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters._by_operator import for_operator
from evolkit.filters.stopwords import words

__all__ = ["DEFAULT_BANDS", "METHOD_BANDS", "TARGET_BAND", "GrowthFilter"]

TARGET_BAND = (10, 20)
"""The words an in-depth step should add, as the method's prompts ask."""

METHOD_BANDS: Mapping[str, tuple[int, int]] = {
    "depth.": TARGET_BAND,
    # Changing the data grows the input, not the instruction; its prompt allows at most 20
    # more words of instruction text.
    "depth.complicate_input": (0, TARGET_BAND[1]),
}
"""The strict band of ``growth.band``: what each depth operator's prompt asks for."""

DEFAULT_BANDS: Mapping[str, tuple[int, int]] = {}
"""No band by default: the method's eliminator never drops on length."""

DEPTH: tuple[str, ...] = ("depth.",)
"""Operators whose growth is measured (names or prefixes ending in ``.``)."""


def _bands(value: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    out = {}
    for key, (least, most) in dict(value).items():
        if least > most:
            raise ValueError(f"growth band for {key!r}: {least} is more than {most}")
        out[key] = (int(least), int(most))
    return out


def _position(added: int, target: tuple[int, int]) -> str:
    if added < target[0]:
        return "below"
    return "above" if added > target[1] else "within"


@frozen(kw_only=True)
class GrowthFilter:
    """Records a depth rewrite's growth; drops a runaway, or one outside a band (see the module)."""

    name: str = "growth"
    needs_response: bool = False
    bands: Mapping[str, tuple[int, int]] = field(default=DEFAULT_BANDS, converter=_bands)
    target: tuple[int, int] = TARGET_BAND
    depth: tuple[str, ...] = field(default=DEPTH, converter=tuple)
    runaway_words: int = field(default=60, validator=attrs.validators.ge(0))
    runaway_ratio: float = field(default=4.0, validator=attrs.validators.gt(1))

    @classmethod
    def band_filter(cls) -> GrowthFilter:
        """``growth.band``: the strict band each depth prompt asks for (10 to 20 words)."""
        return cls(name="growth.band", bands=METHOD_BANDS)

    def band(self, operator: str | None) -> tuple[int, int] | None:
        """The band of ``operator``: its own entry, else its longest matching prefix."""
        return for_operator(self.bands, operator)

    def measures(self, operator: str | None) -> bool:
        """Whether ``operator`` is an in-depth one, whose growth is measured."""
        keys = {key: True for key in (*self.depth, *self.bands)}
        return for_operator(keys, operator) is not None

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a runaway or out-of-band depth rewrite; record the growth of one kept."""
        if not self.measures(candidate.operator):
            return Verdict.kept(self.name, "not_depth")
        before, after = len(words(parent.text)), len(words(candidate.text))
        added = after - before
        if added > self.runaway_words and after > self.runaway_ratio * max(before, 1):
            return Verdict.dropped(
                self.name, "runaway_growth", {"added_words": added, "parent_words": before}
            )
        band = self.band(candidate.operator)
        if band is not None and added < band[0]:
            return Verdict.dropped(self.name, "growth_too_small", {"added_words": added})
        if band is not None and added > band[1]:
            return Verdict.dropped(self.name, "growth_too_large", {"added_words": added})
        record = {"added_words": added, "target": _position(added, self.target)}
        return Verdict.kept(self.name, metadata={"growth": record})
