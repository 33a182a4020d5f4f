"""The ``information_gain`` filter: drop an evolved instruction that asks nothing new.

The model judges whether the evolved instruction only rewords its parent ("Equal") or asks
for more or for something else ("Not Equal"). "Equal" means the evolution gained
nothing, and the candidate is dropped (``no_information_gain``).

The judge is shown worked examples first, as earlier turns of the chat: asked the bare
question, the small embedded model gave one label to every pair (Not Equal to 69 of 69
benchmark cases), so it carried no signal; with the examples it tells rewordings from real
changes (benchmarks/README.md, "Eliminator").

When the run constrains replies (``--structured``), the judge's reply is a JSON object of
:data:`REASONED_VERDICT_SHAPE`: one short ``reason`` (what the second asks that the first does
not), then the ``verdict`` (``"Equal"`` or ``"Not Equal"``); the worked examples are answered in
that form. Forced to give the bare label (:data:`VERDICT_SHAPE`, ``reason_first=False``), the
embedded 1.5B judge called 40 of 164 good rewrites Equal with the double check, against 9 in
plain text; with the reason first, 9 (``benchmarks/README.md``, "Constrained replies").
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs
from attrs import field, frozen

from evolkit._markers import JUDGE_TAGS, described, wrap
from evolkit._protocols import Backend, ConstrainedBackend
from evolkit._shapes import ReplyShape, ShapeMismatch, verdict_shape
from evolkit._types import ChatMessage, Instruction, Verdict

__all__ = [
    "JUDGE_EXAMPLES",
    "JUDGE_SYSTEM",
    "JUDGE_TEMPLATE",
    "REASONED_VERDICT_SHAPE",
    "VERDICT_SHAPE",
    "InformationGainFilter",
    "JudgeExample",
    "read_judgement",
]

Judgement = Literal["equal", "not_equal", "unclear"]

JUDGE_SYSTEM = "You compare two instructions."

JUDGE_TEMPLATE = """{first}

{second}

Equal (the second only rewords the first) \
or Not Equal (the second asks for more or for something else)?"""

_LABELS = {True: "Equal", False: "Not Equal"}

#: The bare label, when replies are constrained and ``reason_first`` is off.
VERDICT_SHAPE = verdict_shape((_LABELS[True], _LABELS[False]), name="information_gain")

#: The judge's reply when replies are constrained (the default): one short sentence on what the
#: second asks that the first does not, then the label.
REASONED_VERDICT_SHAPE = verdict_shape(
    (_LABELS[True], _LABELS[False]),
    name="information_gain",
    reason="one short sentence: what the second asks that the first does not, or that it "
    "asks nothing more",
)


@frozen
class JudgeExample:
    """A worked example for the judge: two instructions, whether they are equal, and ``why``
    in one sentence (the reason a judge asked for one gives first)."""

    first: str = field(validator=attrs.validators.instance_of(str))
    second: str = field(validator=attrs.validators.instance_of(str))
    equal: bool = field(validator=attrs.validators.instance_of(bool))
    why: str = field(default="", validator=attrs.validators.instance_of(str))


#: The judge's worked examples: rewordings (Equal) and rewrites that add a requirement or change
#: the task (Not Equal), alternating so that neither label is favoured by position.
JUDGE_EXAMPLES: tuple[JudgeExample, ...] = (
    JudgeExample(
        "List four ways to save water at home.",
        "What are four things a household can do to use less water?",
        equal=True,
        why="Both ask for four ways to use less water at home; only the words differ.",
    ),
    JudgeExample(
        "Write a haiku about autumn.",
        "Write a haiku about autumn that mentions a red maple and ends with a question.",
        equal=False,
        why="The second also asks for a red maple and a closing question.",
    ),
    JudgeExample(
        "A shop sells pens at $2 each. Tom buys 5 pens. What does he pay?",
        "A shop sells pens at $2 each. Tom buys 5 pens. Work out the amount he pays.",
        equal=True,
        why="The same numbers and the same question, asked another way.",
    ),
    JudgeExample(
        "Explain how bicycle gears work.",
        "Explain how a ship's rudder turns the ship.",
        equal=False,
        why="The second is about a different machine: a new task.",
    ),
    JudgeExample(
        "Summarise this article in three sentences.",
        "In three sentences, give a summary of the article below.",
        equal=True,
        why="Both ask for a three-sentence summary of the article.",
    ),
    JudgeExample(
        "Name three uses of baking soda.",
        "Name three uses of baking soda in cleaning, with the amount to use for each.",
        equal=False,
        why="The second narrows the uses to cleaning and also asks for amounts.",
    ),
)

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


@frozen(kw_only=True)
class InformationGainFilter:
    """Asks the model whether the evolved instruction differs from its parent.

    The model sees ``examples`` (user turns rendered with ``template``, each answered with its
    label) before the pair to judge; ``examples=()`` asks the bare question. Drops the
    candidate with ``no_information_gain`` when the model answers Equal. A reply that is
    neither clearly Equal nor clearly Not Equal keeps the candidate with the reason
    ``judge_unclear`` (a confused judge should not throw away rewrites); set
    ``drop_unclear=True`` to drop those instead. The model is called with ``temperature``
    (0 by default) and, when set, ``max_tokens``.

    With ``double_check`` (on by default) an Equal is asked again with the pair swapped, and
    the candidate is dropped only when both answers are Equal: a small judge leans to one
    label whatever the pair, and the swap keeps good rewrites it called Equal
    (``benchmarks/README.md``) at one more call per Equal. A candidate the swapped question
    calls Not Equal is kept with the reason ``judge_disagreed``.

    A backend that constrains replies (:class:`~evolkit._protocols.ConstrainedBackend`) is
    asked for :data:`REASONED_VERDICT_SHAPE` (:data:`VERDICT_SHAPE` without ``reason_first``),
    and its examples give their reasons; a reply that does not fit it is unclear, counted under
    ``unfit_reply:<why>`` instead of ``judge_unclear``.
    """

    name: str = "information_gain"
    needs_response: bool = False
    calls_model: bool = True
    temperature: float = 0.0
    max_tokens: int | None = field(default=None)
    drop_unclear: bool = False
    double_check: bool = True
    reason_first: bool = True
    system: str = field(default=JUDGE_SYSTEM, repr=False)
    template: str = field(default=JUDGE_TEMPLATE, repr=False)
    examples: tuple[JudgeExample, ...] = field(default=JUDGE_EXAMPLES, converter=tuple, repr=False)

    @property
    def shape(self) -> ReplyShape:
        """The reply asked for when replies are constrained: the reason first, or the label."""
        return REASONED_VERDICT_SHAPE if self.reason_first else VERDICT_SHAPE

    def build_messages(
        self, candidate: Instruction, parent: Instruction, *, structured: bool = False
    ) -> list[ChatMessage]:
        """The judge prompt: the worked examples as earlier turns, then the pair to judge,
        the parent in ``<first>`` tags and the candidate in ``<second>``. With
        ``structured`` the examples are answered as JSON of the reply's shape."""
        messages = [ChatMessage(role="system", content=self.system)]
        for example in self.examples:
            label = _LABELS[example.equal]
            answer = self.shape.example(reason=example.why, verdict=label) if structured else label
            messages.append(
                ChatMessage(role="user", content=self._ask(example.first, example.second))
            )
            messages.append(ChatMessage(role="assistant", content=answer))
        messages.append(
            ChatMessage(role="user", content=self._ask(described(parent), described(candidate)))
        )
        return messages

    def _ask(self, first_text: str, second_text: str) -> str:
        first, second = JUDGE_TAGS
        values = {"first": wrap(first, first_text), "second": wrap(second, second_text)}
        return _SLOT.sub(lambda m: values[m.group(1)], self.template)

    async def _ask_model(
        self, candidate: Instruction, parent: Instruction, backend: Backend
    ) -> tuple[Judgement, str]:
        """The judgement of the pair, and the reason an unclear one is counted under."""
        params: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if not (isinstance(backend, ConstrainedBackend) and backend.constrains):
            completion = await backend.complete(self.build_messages(candidate, parent), **params)
            return read_judgement(completion.text), "judge_unclear"
        params.update(backend.constraint(self.shape))
        messages = self.build_messages(candidate, parent, structured=True)
        fields = self.shape.read((await backend.complete(messages, **params)).text)
        if isinstance(fields, ShapeMismatch):
            return "unclear", f"unfit_reply:{fields.reason}"
        return ("equal" if fields["verdict"] == _LABELS[True] else "not_equal"), ""

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` when the model judges it equal to ``parent`` (both ways round,
        with ``double_check``)."""
        judgement, unclear = await self._ask_model(candidate, parent, backend)
        if judgement == "equal" and self.double_check:
            swapped, _ = await self._ask_model(parent, candidate, backend)
            if swapped != "equal":
                return Verdict.kept(
                    self.name,
                    "judge_disagreed",
                    {"information_gain": {"first": judgement, "swapped": swapped}},
                )
        if judgement == "equal":
            return Verdict.dropped(self.name, "no_information_gain")
        if judgement == "unclear":
            if self.drop_unclear:
                return Verdict.dropped(self.name, unclear)
            return Verdict.kept(self.name, unclear)
        return Verdict.kept(self.name)
