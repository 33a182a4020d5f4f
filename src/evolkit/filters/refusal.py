"""The ``refusal`` filter: drop a candidate whose response shows the model could not answer it.

The refusal phrases and their matcher live in :mod:`evolkit._refusal`, shared with the
operators, which reject a rewrite that opens like a refusal.

Evol-Instruct's rule is an apology in a response under 80 words. Auto Evol-Instruct
(arXiv 2406.00770) also counts as failures the responses that ask for what is missing
("Please provide the equation", "Sure! What topic would you like?") and those that only
acknowledge ("Understood."). The phrases are English, the language of the stop-word list.
"""

from __future__ import annotations

import re

import attrs
from attrs import field, frozen

from evolkit._phrases import normalise_quotes
from evolkit._protocols import Backend
from evolkit._refusal import APOLOGY_WORDS, REFUSAL_PHRASES, find_refusal
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import english_stopwords, words

__all__ = ["APOLOGY_WORDS", "REFUSAL_PHRASES", "RefusalFilter", "non_answer"]

_OPENER = (
    r"(?:(?:sure|certainly|of course|absolutely|okay|ok|alright|great|happy to help)[\s,.!:-]*)*"
)
_REQUEST = re.compile(
    rf"^\W*{_OPENER}(?:i(?:'d| would) be (?:happy|glad) to help[\s,.!-]*)?"
    r"(?:please\s+(?:provide|share|specify|clarify|send|give|tell|paste|let me know)"
    r"|(?:could|can|would) you\s+(?:please\s+)?(?:provide|share|specify|clarify|send|give"
    r"|tell|paste|let me know)"
    r"|i (?:need|would need|require) (?:more|some|the|additional)\s+\w+"
    r"|(?:what|which)\s+[^.!?]*\b(?:would|do) you\s+(?:like|want|prefer|mean|have in mind))",
    re.IGNORECASE,
)
# The instruction asks the model to write a message (where a request can be the answer), not
# merely mentions one ("Translate the landlord's reply").
_WRITES_MESSAGE = re.compile(
    r"^\W*(?:repl(?:y|ies)|respond|answer as)\b"
    r"|\b(?:write|draft|compose|send|prepare)\b[^.?!]{0,60}?"
    r"\b(?:repl(?:y|ies)|responses?|messages?|e-?mails?|letters?|notes?|requests?|dialogues?"
    r"|conversations?|texts?)\b"
    r"|\brole-?play\b",
    re.IGNORECASE,
)
_ASKS_ACK = re.compile(r"\b(?:acknowledg\w*|confirm\w*|repl(?:y|ies)|respond\w*)\b", re.IGNORECASE)
_ACK_WORDS = frozenset(
    [
        "sure",
        "okay",
        "ok",
        "understood",
        "got",
        "noted",
        "certainly",
        "absolutely",
        "alright",
        "right",
        "great",
        "course",
        "happy",
        "glad",
        "help",
        "helping",
        "assist",
        "ready",
        "will",
        "do",
        "thanks",
        "thank",
    ]
)


@frozen(kw_only=True)
class RefusalFilter:
    """Drops a candidate the model could not answer: an apology in a short response.

    - ``refusal``: the response contains one of ``phrases`` ("sorry", "I cannot", "as an AI",
      ...) and has fewer than ``max_words`` words. A phrase that the instruction itself
      contains does not count ("Write a two-line apology that starts with 'Sorry'").
    - ``asks_for_information``: the response, under ``max_words`` words, opens by asking for
      what it would need ("Please provide the equation you need to solve.", "Sure! What
      topic would you like the poem to be about?").
    - ``acknowledgement_only``: the response, under ``max_words`` words, only acknowledges
      ("Understood.", "Sure, I can help with that!"): every word is a stop word or an
      acknowledgement.
    - ``response_too_short``: the response has fewer than ``min_words`` words. The default,
      1, drops only empty responses: an evolved instruction may ask for a one-word answer.

    An instruction that asks for an apology ("Write an apology to a customer") makes the
    apology words normal in its response; refusals ("I cannot") still count.

    A candidate without a response is kept (``no_response``); the engine runs this filter
    only when it generates responses.
    """

    name: str = "refusal"
    needs_response: bool = True
    max_words: int = field(default=80, validator=attrs.validators.ge(1))
    min_words: int = field(default=1, validator=attrs.validators.ge(0))
    phrases: tuple[str, ...] = field(default=REFUSAL_PHRASES, converter=tuple, repr=False)

    def refusal_phrase(self, response: str, instruction: str = "") -> str | None:
        """The first refusal phrase in ``response`` that ``instruction`` does not contain.

        When ``instruction`` asks for an apology, :data:`APOLOGY_WORDS` do not count.
        """
        return find_refusal(response, self.phrases, instruction=instruction)

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
            failure = non_answer(response, instruction)
            if failure is not None:
                return Verdict.dropped(self.name, failure)
        return Verdict.kept(self.name)


def non_answer(response: str, instruction: str = "") -> str | None:
    """``asks_for_information`` or ``acknowledgement_only`` for a response that is one, else None.

    An instruction that asks for a message, a reply or a request (where "Please provide your
    order number" is the answer) turns the first off; one that asks to acknowledge or
    confirm turns the second off.
    """
    text = normalise_quotes(response).strip()
    if _REQUEST.match(text) and not _WRITES_MESSAGE.search(instruction):
        return "asks_for_information"
    tokens = words(text)
    if (
        tokens
        and any(w in _ACK_WORDS for w in tokens)
        and all(w in _ACK_WORDS or w in english_stopwords() for w in tokens)
        and not _ASKS_ACK.search(instruction)
    ):
        return "acknowledgement_only"
    return None
