"""The ``not_instruction`` filter: drop a rewrite that is not an instruction at all.

Small models sometimes reply to the rewrite request with a judge's verdict ("Not Equal"), a
bare label, a cut-off fragment or nothing usable. No model call; what the parent itself
already was never counts against the candidate.

- ``empty_instruction``: no letter or digit at all ("...", "``` ```").
- ``verdict_not_instruction``: the whole text is a verdict or a label, such as "Equal",
  "Not Equal", "Yes", "Correct", "N/A", "New instruction".
- ``fragment``: fewer than ``min_words`` words where the parent had more, or the text stops
  on a word that cannot end a sentence ("Write a story about a dog and"), unless it is a
  fill-in-the-blank item.
"""

from __future__ import annotations

import re

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import words

__all__ = ["DANGLING_WORDS", "VERDICT_TEXTS", "InstructionFormFilter"]

VERDICT_TEXTS: frozenset[str] = frozenset(
    {
        "equal",
        "not equal",
        "unequal",
        "same",
        "the same",
        "different",
        "yes",
        "no",
        "true",
        "false",
        "correct",
        "incorrect",
        "right",
        "wrong",
        "ok",
        "okay",
        "done",
        "none",
        "n a",
        "null",
        "unchanged",
        "no change",
        "no changes",
        "instruction",
        "new instruction",
        "rewritten instruction",
        "rewrite",
        "the answer",
        "answer",
    }
)
"""Whole texts (case-folded, punctuation removed) that are verdicts or labels, not tasks."""

DANGLING_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "of",
        "to",
        "with",
        "for",
        "from",
        "by",
        "that",
        "which",
        "whose",
        "than",
        "as",
        "if",
        "because",
    ]
)
"""Words a complete instruction does not end on."""

_ENDS_SENTENCE = re.compile(r"[.!?:;)\]}\"'`»”]\s*$")
# A cloze item ends mid-sentence on purpose.
_CLOZE = re.compile(
    r"\b(?:fill in|blanks?|complete the (?:sentence|phrase|statement)|finish the sentence)\b",
    re.IGNORECASE,
)


def _verdict(text: str) -> bool:
    return " ".join(words(text)) in VERDICT_TEXTS


def _fragment(text: str, min_words: int) -> bool:
    tokens = words(text)
    if len(tokens) < min_words:
        return True
    dangling = tokens[-1] in DANGLING_WORDS and not _ENDS_SENTENCE.search(text)
    return dangling and not _CLOZE.search(text)


@frozen(kw_only=True)
class InstructionFormFilter:
    """Drops a rewrite that is empty, a bare verdict or label, or a fragment."""

    name: str = "not_instruction"
    needs_response: bool = False
    min_words: int = field(default=2, validator=attrs.validators.ge(1))

    def problem(self, candidate: Instruction, parent: Instruction) -> str | None:
        """The reason ``candidate`` is not an instruction, or None when it is one."""
        text = candidate.text
        if not words(text) and words(parent.text):
            return "empty_instruction"
        if _verdict(text) and not _verdict(parent.text):
            return "verdict_not_instruction"
        if _fragment(text, self.min_words) and not _fragment(parent.text, self.min_words):
            return "fragment"
        return None

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` when it is not an instruction (see :meth:`problem`)."""
        reason = self.problem(candidate, parent)
        if reason is not None:
            return Verdict.dropped(self.name, reason)
        return Verdict.kept(self.name)
