"""The ``information_gain`` filter: drop an evolved instruction that asks nothing new.

The model judges whether the parent and the evolved instruction are equal in constraints and
requirements, and in the depth and breadth of what they ask. "Equal" means the evolution
gained nothing, and the candidate is dropped (``no_information_gain``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from attrs import field, frozen

from evolkit._markers import JUDGE_TAGS, wrap
from evolkit._protocols import Backend
from evolkit._types import ChatMessage, Instruction, Verdict

__all__ = ["JUDGE_SYSTEM", "JUDGE_TEMPLATE", "InformationGainFilter", "read_judgement"]

Judgement = Literal["equal", "not_equal", "unclear"]

JUDGE_SYSTEM = "You compare two instructions and reply with a single label."

JUDGE_TEMPLATE = """Compare these two instructions.

{first}

{second}

Do they have the same constraints and requirements, and the same depth and breadth?
If yes, the label is Equal. \
If the second asks for more or for something different, the label is Not Equal.
Reply with only the label: Equal or Not Equal."""

# The label list of the prompt, echoed back by chatty models: not an answer.
_ECHO = re.compile(r"\b(?:not[\s-]+equal\s+or\s+equal|equal\s+or\s+not[\s-]+equal)\b")
_NEGATIVE = re.compile(
    r"(?:\bnot|n't|\bnever)[\s-]+(?:\w+\s+)?(?:equals?|the\s+same|identical)\b"
    r"|\bunequal\b|\bnon-?equal\b|\binequivalent\b|\bdiffer(?:s|ent|ence|ences)?\b"
)
_POSITIVE = re.compile(r"\bequals?\b|\bthe\s+same\b|\bidentical\b|\bequivalent\b")
_LEADING = re.compile(
    r"^\W*(?:(?:final\s+)?(?:answer|label|verdict|judg(?:e)?ment)\s*[:=-]?\s*)?"
    r"(not[\s-]+equal|unequal|equal)\b"
)
_SLOT = re.compile(r"\{(first|second)\}")


def read_judgement(reply: str) -> Judgement:
    """Read an Equal / Not Equal judgement from ``reply``, leniently.

    Case, punctuation and markdown do not matter, and neither do sentences around the label
    ("They are not equal.", "**NOT EQUAL**", "Equal - both ask the same"). A reply that
    starts with a label is read by that label; otherwise synonyms count too ("the same",
    "different"), and a reply holding both labels, or neither, is ``unclear``. An echo of the
    prompt's "Equal or Not Equal" is ignored.
    """
    text = reply.casefold().replace("’", "'")
    text = re.sub(r"[*_`#\"]", " ", text)
    text = _ECHO.sub(" ", text)
    leading = _LEADING.match(text)
    if leading:
        return "equal" if leading.group(1) == "equal" else "not_equal"
    labels: set[Judgement] = set()
    if _NEGATIVE.search(text):
        labels.add("not_equal")
        text = _NEGATIVE.sub(" ", text)
    if _POSITIVE.search(text):
        labels.add("equal")
    return labels.pop() if len(labels) == 1 else "unclear"


def _describe(instruction: Instruction) -> str:
    if instruction.input.strip():
        return f"{instruction.text}\n\nInput:\n{instruction.input}"
    return instruction.text


@frozen(kw_only=True)
class InformationGainFilter:
    """Asks the model whether the evolved instruction differs from its parent.

    Drops the candidate with ``no_information_gain`` when the model answers Equal. A reply
    that is neither clearly Equal nor clearly Not Equal keeps the candidate with the reason
    ``judge_unclear`` (a confused judge should not throw away rewrites); set
    ``drop_unclear=True`` to drop those instead. The model is called with ``temperature``
    (0 by default) and, when set, ``max_tokens``.
    """

    name: str = "information_gain"
    needs_response: bool = False
    calls_model: bool = True
    temperature: float = 0.0
    max_tokens: int | None = field(default=None)
    drop_unclear: bool = False
    system: str = field(default=JUDGE_SYSTEM, repr=False)
    template: str = field(default=JUDGE_TEMPLATE, repr=False)

    def build_messages(self, candidate: Instruction, parent: Instruction) -> list[ChatMessage]:
        """The judge prompt: the parent in ``<first>`` tags, the candidate in ``<second>``."""
        first, second = JUDGE_TAGS
        values = {
            "first": wrap(first, _describe(parent)),
            "second": wrap(second, _describe(candidate)),
        }
        user = _SLOT.sub(lambda m: values[m.group(1)], self.template)
        return [
            ChatMessage(role="system", content=self.system),
            ChatMessage(role="user", content=user),
        ]

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` when the model judges it equal to ``parent``."""
        params: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        completion = await backend.complete(self.build_messages(candidate, parent), **params)
        judgement = read_judgement(completion.text)
        if judgement == "equal":
            return Verdict.dropped(self.name, "no_information_gain")
        if judgement == "unclear":
            if self.drop_unclear:
                return Verdict.dropped(self.name, "judge_unclear")
            return Verdict.kept(self.name, "judge_unclear")
        return Verdict.kept(self.name)
