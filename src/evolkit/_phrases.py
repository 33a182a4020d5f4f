"""Turning a list of phrases into one case-insensitive, word-boundary-aware pattern."""

from __future__ import annotations

import functools
import re

__all__ = ["normalise_quotes", "phrase_pattern"]

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})


def normalise_quotes(text: str) -> str:
    """``text`` with typographic apostrophes turned into ``'``."""
    return text.translate(_APOSTROPHES)


def _one(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.strip().split()]
    return r"[\s_-]+".join(words)


@functools.lru_cache(maxsize=64)
def phrase_pattern(phrases: tuple[str, ...], plural: bool = False) -> re.Pattern[str]:
    """A pattern matching any of ``phrases`` as whole words, ignoring case.

    Words of a phrase may be separated by any run of spaces, hyphens or underscores; a phrase
    never matches inside a longer word ("sorry" is not found in "sorrowful"). With ``plural``,
    a trailing ``s`` is allowed ("given prompts").
    """
    if not phrases:
        return re.compile(r"(?!x)x")  # matches nothing
    body = "|".join(_one(p) for p in sorted(phrases, key=len, reverse=True) if p.strip())
    tail = "s?" if plural else ""
    return re.compile(rf"(?<!\w)(?:{body}){tail}(?!\w)", re.IGNORECASE)
