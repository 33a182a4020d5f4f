"""The ``near_copy`` filter: drop a rewrite that is its parent with a word or two changed.

No model call: the parent and the candidate (text and input) are compared as bags of words,
case-folded and without punctuation, so spacing, case, punctuation and word order never
matter. A candidate is a near copy when both hold:

- the two bags overlap almost fully: their similarity (Dice over word counts,
  ``2 * shared / (words of parent + words of candidate)``) is at least ``threshold`` (0.8);
- the candidate brings at most one word the parent does not have (counting repeats), or at
  most ``max_new_words`` (2) that are all stop words ("which" for "that", "from the largest
  to the smallest"; not "without sorted()").

An in-depth rewrite that brings no content word its parent lacks (compared on their first five
letters, a plural ``s`` aside: "In Python, how do lists and tuples differ?" for "What is the
difference between a list and a tuple in Python?"), while keeping at least half of the
parent's, asks nothing new and is dropped the same way.

So a rewrite that adds a sentence of three words or more is never a near copy, and neither is
one that drops most of the parent's words. A near copy is dropped as ``no_information_gain``,
the reason the model judge gives, before the judge is asked.

An in-breadth rewrite is asked for a brand-new instruction, so it is held to more: one that
keeps its parent's frame and swaps in at most ``max_swapped`` (4) new words, with a similarity
of at least its operator's entry in ``new_task`` (``breadth.``: 0.6) and at least
``min_shared`` (6) words in common, is dropped as ``not_new`` with ``{"similarity": 0.85}``
("repair a broken kitchen faucet" for "repair a leaking kitchen tap"). "Define herd
behaviour." for "Define herd immunity." is a new topic in a short sentence and shares two
words; a breadth rewrite that keeps its parent and adds a sentence brings more than four new
words, and is left to the judge. Written breadth rewrites that are new share at most 0.45 of
their parent's words in the labelled benchmark; the swaps a small model makes share 0.72 to
0.86.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters._by_operator import for_operator
from evolkit.filters.stopwords import english_stopwords, words

__all__ = ["NEW_TASK", "NearCopyFilter", "content_words", "new_words", "similarity"]


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


def content_words(instruction: Instruction) -> set[str]:
    """The content words of text and input, cut to five letters and without a plural ``s``."""
    stop = english_stopwords()
    found = words(f"{instruction.text}\n{instruction.input}")
    return {w.removesuffix("s")[:5] for w in found if w not in stop and (len(w) > 2 or w.isdigit())}


def _ratio(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"NearCopyFilter.threshold must be between 0 and 1, got {value}")


def _ratios(value: Mapping[str, float]) -> dict[str, float]:
    out = {key: float(ratio) for key, ratio in dict(value).items()}
    for key, ratio in out.items():
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"NearCopyFilter.new_task[{key!r}] must be between 0 and 1")
    return out


NEW_TASK: Mapping[str, float] = {"breadth.": 0.6}
"""The similarity to its parent at which an in-breadth rewrite is not a new instruction."""


@frozen(kw_only=True)
class NearCopyFilter:
    """Drops a candidate that only reshuffles its parent's words: ``no_information_gain``."""

    name: str = "near_copy"
    needs_response: bool = False
    threshold: float = field(default=0.8, validator=_ratio)
    max_new_words: int = field(default=2, validator=attrs.validators.ge(1))
    new_task: Mapping[str, float] = field(default=NEW_TASK, converter=_ratios)
    min_shared: int = field(default=6, validator=attrs.validators.ge(1))
    max_swapped: int = field(default=4, validator=attrs.validators.ge(0))
    depth: tuple[str, ...] = field(default=("depth.",), converter=tuple)

    def is_near_copy(self, candidate: Instruction, parent: Instruction) -> bool:
        """Whether ``candidate`` is ``parent`` with at most a word or two changed."""
        return self._near_copy(_bag(candidate), _bag(parent))

    def too_close(self, candidate: Instruction, parent: Instruction) -> float | None:
        """The similarity of an in-breadth ``candidate`` that is too close to be a new task."""
        return self._too_close(candidate.operator, _bag(candidate), _bag(parent))

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a near copy of ``parent``, or a breadth rewrite too close to it; keep the rest."""
        mine, theirs = _bag(candidate), _bag(parent)
        if self._near_copy(mine, theirs) or self._nothing_new(candidate, parent):
            return Verdict.dropped(self.name, "no_information_gain")
        shared = self._too_close(candidate.operator, mine, theirs)
        if shared is not None:
            return Verdict.dropped(self.name, "not_new", {"similarity": shared})
        return Verdict.kept(self.name)

    def _nothing_new(self, candidate: Instruction, parent: Instruction) -> bool:
        keys = dict.fromkeys(self.depth, True)
        if for_operator(keys, candidate.operator) is None:
            return False
        mine, theirs = content_words(candidate), content_words(parent)
        # A rewrite that lost most of its parent is a different failure, left to other rules.
        return not mine - theirs and 2 * len(mine) >= len(theirs)

    def _near_copy(self, mine: Counter[str], theirs: Counter[str]) -> bool:
        brought = list((mine - theirs).elements())
        if len(brought) > self.max_new_words or _dice(mine, theirs) < self.threshold:
            return False
        return len(brought) <= 1 or all(w in english_stopwords() for w in brought)

    def _too_close(
        self, operator: str | None, mine: Counter[str], theirs: Counter[str]
    ) -> float | None:
        least = for_operator(self.new_task, operator)
        if least is None:
            return None
        shared = _dice(mine, theirs)
        if shared < least or (mine & theirs).total() < self.min_shared:
            return None
        if (mine - theirs).total() > self.max_swapped:
            return None
        return round(shared, 2)
