"""Cheap, model-free measures of an instruction set: length, a complexity proxy, distinct-n.

The **complexity proxy** of an instruction counts what Evol-Instruct's in-depth operators add::

    complexity = words / 10 + clauses + constraints + numbers

- ``words``: whitespace-separated words of the instruction and its input;
- ``clauses``: sentences and clause breaks (``.``, ``?``, ``!``, ``;`` and ``:`` followed by a
  space or the end), at least 1;
- ``constraints``: occurrences of words and phrases that state a requirement or a condition
  (``must``, ``at least``, ``no more than``, ``exactly``, ``only``, ``without``, ``each``,
  ``every``, ``if``, ``unless``, ``step``, ``justify``, ``compare``, … — see
  :data:`CONSTRAINT_MARKERS`);
- ``numbers``: numbers written with digits (concrete quantities make a task more specific).

It is a proxy, not a judgement: it rises when a rewrite adds requirements, steps and
specifics, and it is blind to whether they make sense. Use it to compare rounds of one run.

**Lexical diversity** (distinct-n) is the number of distinct word n-grams divided by the
number of n-grams over all texts of a set (Li et al., 2016). 1.0 means no n-gram repeats;
values fall as texts share phrasing. Longer texts and larger sets score lower, so compare
sets of similar size, such as the rounds of one run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "CONSTRAINT_MARKERS",
    "clause_count",
    "complexity",
    "constraint_count",
    "distinct_n",
    "tokens",
    "word_count",
]

CONSTRAINT_MARKERS: tuple[str, ...] = (
    "must",
    "should",
    "need to",
    "needs to",
    "required",
    "require",
    "at least",
    "at most",
    "no more than",
    "no fewer than",
    "fewer than",
    "more than",
    "less than",
    "exactly",
    "only",
    "without",
    "each",
    "every",
    "all",
    "both",
    "if",
    "unless",
    "when",
    "while",
    "before",
    "after",
    "then",
    "step",
    "steps",
    "justify",
    "explain why",
    "compare",
    "include",
    "ensure",
    "avoid",
    "do not",
    "don't",
    "never",
    "within",
    "between",
    "limit",
    "assume",
    "given",
    "format",
    "table",
)

_WORD = re.compile(r"[\w']+", re.UNICODE)
_CLAUSE_BREAK = re.compile(r"[.?!;:](?=\s|$)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_SINGLE = frozenset(m for m in CONSTRAINT_MARKERS if " " not in m)
_PHRASES = tuple(
    sorted((m for m in CONSTRAINT_MARKERS if " " in m), key=lambda m: (-len(m.split()), m))
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscores and apostrophes)."""
    return _WORD.findall(text.lower())


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


def clause_count(text: str) -> int:
    """Sentences and clause breaks, at least 1 for a non-blank text."""
    if not text.strip():
        return 0
    stripped = text.strip()
    breaks = len(_CLAUSE_BREAK.findall(stripped))
    ends_with_break = bool(_CLAUSE_BREAK.search(stripped[-1:] + " "))
    return max(1, breaks + (0 if ends_with_break else 1))


def constraint_count(text: str) -> int:
    """Occurrences of :data:`CONSTRAINT_MARKERS` (whole words, any case).

    Longer phrases are counted first and their words are not counted again ("no more than" is
    one marker, not also "more than").
    """
    joined = f" {' '.join(tokens(text))} "
    count = 0
    for phrase in _PHRASES:
        needle = f" {phrase} "
        found = joined.count(needle)
        if found:
            count += found
            joined = joined.replace(needle, " | ")
    return count + sum(1 for word in joined.split() if word in _SINGLE)


@functools.lru_cache(maxsize=1 << 17)
def complexity(text: str, input: str = "") -> float:
    """The complexity proxy described in this module's docstring."""
    full = f"{text}\n{input}" if input.strip() else text
    return round(
        word_count(full) / 10
        + clause_count(text)
        + constraint_count(full)
        + len(_NUMBER.findall(full)),
        2,
    )


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct word n-grams / all word n-grams over ``texts``; 0.0 when there are none."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        words: Sequence[str] = tokens(text)
        if len(words) >= n:
            seen.update(zip(*(words[i:] for i in range(n)), strict=False))
            total += len(words) - n + 1
    return len(seen) / total if total else 0.0
