"""The ``near_copy`` filter: drop a rewrite that is its parent with a word or two changed.

No model call: the parent and the candidate (text and input) are compared as bags of words,
case-folded and without punctuation, so spacing, case, punctuation and word order never
matter. A candidate is a near copy when both hold:

- the two bags overlap almost fully: their similarity (Dice over word counts,
  ``2 * shared / (words of parent + words of candidate)``) is at least ``threshold`` (0.8);
- the candidate brings at most one word the parent does not have (counting repeats), or at
  most ``max_new_words`` (2) that are all stop words ("which" for "that", "from the largest
  to the smallest"; not "without sorted()").

So a rewrite that adds a sentence of three words or more is never a near copy, and neither is
one that drops most of the parent's words. A near copy is dropped as ``no_information_gain``,
the reason the model judge gives, before the judge is asked.
"""

from __future__ import annotations

from collections import Counter

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import english_stopwords, words

__all__ = ["NearCopyFilter", "new_words", "similarity"]


def _bag(instruction: Instruction) -> Counter[str]:
    return Counter(words(f"{instruction.text}\n{instruction.input}"))


def _dice(a: Counter[str], b: Counter[str]) -> float:
    total = a.total() + b.total()
    return 1.0 if total == 0 else 2 * (a & b).total() / total


def similarity(candidate: Instruction, parent: Instruction) -> float:
    """Dice similarity of the two word bags, from 0 (nothing shared) to 1 (same words)."""
    return _dice(_bag(parent), _bag(candidate))


def new_words(candidate: Instruction, parent: Instruction) -> list[str]:
    """The words of ``candidate`` beyond those of ``parent`` (a word twice counts twice)."""
    return sorted((_bag(candidate) - _bag(parent)).elements())


def _ratio(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"NearCopyFilter.threshold must be between 0 and 1, got {value}")


@frozen(kw_only=True)
class NearCopyFilter:
    """Drops a candidate that only reshuffles its parent's words: ``no_information_gain``."""

    name: str = "near_copy"
    needs_response: bool = False
    threshold: float = field(default=0.8, validator=_ratio)
    max_new_words: int = field(default=2, validator=attrs.validators.ge(1))

    def is_near_copy(self, candidate: Instruction, parent: Instruction) -> bool:
        """Whether ``candidate`` is ``parent`` with at most a word or two changed."""
        mine, theirs = _bag(candidate), _bag(parent)
        brought = list((mine - theirs).elements())
        if len(brought) > self.max_new_words or _dice(mine, theirs) < self.threshold:
            return False
        return len(brought) <= 1 or all(w in english_stopwords() for w in brought)

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a near copy of ``parent``; keep everything else."""
        if self.is_near_copy(candidate, parent):
            return Verdict.dropped(self.name, "no_information_gain")
        return Verdict.kept(self.name)
