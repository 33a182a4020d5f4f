"""The ``refusal`` filter: drop a candidate whose response shows the model could not answer it."""

from __future__ import annotations

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters._phrases import normalise_quotes, phrase_pattern

__all__ = ["REFUSAL_PHRASES", "RefusalFilter"]

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


def _key(phrase: str) -> str:
    return " ".join(phrase.casefold().replace("-", " ").replace("_", " ").split())


@frozen(kw_only=True)
class RefusalFilter:
    """Drops a candidate the model could not answer: an apology in a short response.

    - ``refusal``: the response contains one of ``phrases`` ("sorry", "I cannot", "as an AI",
      ...) and has fewer than ``max_words`` words. A phrase that the instruction itself
      contains does not count ("Write a two-line apology that starts with 'Sorry'").
    - ``response_too_short``: the response has fewer than ``min_words`` words. The default,
      1, drops only empty responses: an evolved instruction may ask for a one-word answer.

    A candidate without a response is kept (``no_response``); the engine runs this filter
    only when it generates responses.
    """

    name: str = "refusal"
    needs_response: bool = True
    max_words: int = field(default=80, validator=attrs.validators.ge(1))
    min_words: int = field(default=1, validator=attrs.validators.ge(0))
    phrases: tuple[str, ...] = field(default=REFUSAL_PHRASES, converter=tuple, repr=False)

    def refusal_phrase(self, response: str, instruction: str = "") -> str | None:
        """The first refusal phrase in ``response`` that ``instruction`` does not contain."""
        pattern = phrase_pattern(self.phrases)
        own = {_key(m.group(0)) for m in pattern.finditer(normalise_quotes(instruction))}
        for match in pattern.finditer(normalise_quotes(response)):
            if _key(match.group(0)) not in own:
                return match.group(0)
        return None

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a refusal or an empty response; keep everything else."""
        response = candidate.response
        if response is None:
            return Verdict.kept(self.name, "no_response")
        words = len(response.split())
        if words < self.min_words:
            return Verdict.dropped(self.name, "response_too_short")
        if words < self.max_words:
            instruction = f"{candidate.text}\n{candidate.input}"
            if self.refusal_phrase(response, instruction) is not None:
                return Verdict.dropped(self.name, "refusal")
        return Verdict.kept(self.name)
