"""Spotting a refusal, for the operators and the ``refusal`` filter alike: one matcher.

- A *response* refuses when it contains a refusal phrase anywhere (``refusal`` filter, with
  :data:`REFUSAL_PHRASES`), unless the instruction itself contains that phrase or asks for an
  apology.
- A *rewritten instruction* refuses when it opens with one (the operators' parse step, with the
  narrower :data:`OPENING_REFUSALS`): an instruction may well open with "Apologize to..." or
  "I don't have access to a calculator; ..." but not with "I'm sorry, but...".

Phrases match as whole words, ignoring case, with typographic apostrophes read as ``'``.
"""

from __future__ import annotations

import re

from evolkit._phrases import normalise_quotes, phrase_pattern

__all__ = ["APOLOGY_WORDS", "OPENING_REFUSALS", "REFUSAL_PHRASES", "find_refusal"]

REFUSAL_PHRASES: tuple[str, ...] = (
    "sorry",
    "apologize",
    "apologise",
    "apologies",
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm not able",
    "i won't be able",
    "i will not be able",
    "i'm afraid i",
    "i am afraid i",
    "unable to help",
    "unable to assist",
    "unable to answer",
    "unable to provide",
    "cannot assist",
    "can't assist",
    "cannot help with",
    "can't help with",
    "as an ai",
    "as a language model",
    "i do not have access",
    "i don't have access",
    "i do not have the ability",
    "i don't have the ability",
)
"""Apology and refusal phrases, matched as whole words and ignoring case."""

APOLOGY_WORDS: tuple[str, ...] = ("sorry", "apologize", "apologise", "apologies", "apology")
"""Phrases of :data:`REFUSAL_PHRASES` that an instruction asking for an apology makes normal."""

_APOLOGY_ASKED = re.compile(r"\b(?:apolog\w*|sorry|regret\w*|condolences?)\b", re.IGNORECASE)

OPENING_REFUSALS: tuple[str, ...] = (
    "i'm sorry",
    "im sorry",
    "i am sorry",
    "sorry",
    "i apologize",
    "i apologise",
    "i cannot",
    "i can't",
    "i cant",
    "i can not",
    "i am unable",
    "i'm unable",
    "as an ai",
    "as a language model",
)
"""Phrases that make a rewritten instruction a refusal when it opens with one."""

_LEADING_PUNCTUATION = re.compile(r"\W*")


def _key(phrase: str) -> str:
    return " ".join(phrase.casefold().replace("-", " ").replace("_", " ").split())


def find_refusal(
    text: str,
    phrases: tuple[str, ...] = REFUSAL_PHRASES,
    *,
    instruction: str = "",
    opening: bool = False,
) -> str | None:
    """The first of ``phrases`` in ``text`` (at its opening only, with ``opening``), else None.

    A phrase that ``instruction`` contains does not count, nor, when ``instruction`` asks for
    an apology, do :data:`APOLOGY_WORDS`.
    """
    pattern = phrase_pattern(tuple(phrases))
    text = normalise_quotes(text)
    own: set[str] = set()
    if instruction:
        own = {_key(m.group(0)) for m in pattern.finditer(normalise_quotes(instruction))}
        if _APOLOGY_ASKED.search(instruction):
            own |= {_key(p) for p in APOLOGY_WORDS}
    if opening:
        start = _LEADING_PUNCTUATION.match(text)
        found = pattern.match(text, start.end() if start else 0)
        matches = [found] if found else []
    else:
        matches = list(pattern.finditer(text))
    for match in matches:
        if _key(match.group(0)) not in own:
            return match.group(0)
    return None
