"""The ``near_copy`` filter: drop a rewrite that is its parent with a word or two changed.

No model call: the parent and the candidate (text and input) are compared as sequences of
words, case-folded and without punctuation, so spacing, case and punctuation never matter.
A candidate is a near copy when both hold:

- its similarity to the parent (``difflib`` ratio of the word sequences, ``2*M/T``) is at
  least ``threshold`` (0.8), and
- it brings at most one word the parent does not have at that place (inserted, or replacing
  a parent word), or at most ``max_new_words`` (2) that are all stop words ("which" for
  "that", "from the largest to the smallest"; not "without sorted()").

So a rewrite that adds a sentence of three words or more is never a near copy, and a short
rewrite that changes most of its words is not one either. A near copy is dropped as
``no_information_gain``, the reason the model judge gives, before the judge is asked.
"""

from __future__ import annotations

import difflib

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import english_stopwords, words

__all__ = ["NearCopyFilter", "new_words", "similarity"]


def _tokens(instruction: Instruction) -> list[str]:
    return words(f"{instruction.text}\n{instruction.input}")


def _matcher(a: list[str], b: list[str]) -> difflib.SequenceMatcher[str]:
    return difflib.SequenceMatcher(None, a, b, autojunk=False)


def similarity(candidate: Instruction, parent: Instruction) -> float:
    """The ``difflib`` ratio of the two word sequences, from 0 (nothing shared) to 1."""
    return _matcher(_tokens(parent), _tokens(candidate)).ratio()


def new_words(candidate: Instruction, parent: Instruction) -> int:
    """How many words of ``candidate`` are inserted into, or replace words of, ``parent``."""
    ops = _matcher(_tokens(parent), _tokens(candidate)).get_opcodes()
    return sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag in ("insert", "replace"))


def _ratio(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"NearCopyFilter.threshold must be between 0 and 1, got {value}")


@frozen(kw_only=True)
class NearCopyFilter:
    """Drops a candidate that only reshuffles its parent's words: ``no_information_gain``."""

    name: str = "near_copy"
    needs_response: bool = False
    threshold: float = field(default=0.8, validator=_ratio)
    max_new_words: int = field(default=2, validator=attrs.validators.ge(0))

    def is_near_copy(self, candidate: Instruction, parent: Instruction) -> bool:
        """Whether ``candidate`` is ``parent`` with at most a word or two changed."""
        a, b = _tokens(parent), _tokens(candidate)
        matcher = _matcher(a, b)
        brought = [
            w
            for tag, _, _, j1, j2 in matcher.get_opcodes()
            if tag in ("insert", "replace")
            for w in b[j1:j2]
        ]
        if len(brought) > self.max_new_words or matcher.ratio() < self.threshold:
            return False
        stop = english_stopwords()
        return len(brought) <= 1 or all(w in stop for w in brought)

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a near copy of ``parent``; keep everything else."""
        if self.is_near_copy(candidate, parent):
            return Verdict.dropped(self.name, "no_information_gain")
        return Verdict.kept(self.name)
