"""The prompt styles GSM8K is evaluated in, each with its stop strings and answer marker.

- ``wizardmath``: zero-shot. The shared Alpaca template (:data:`evolkit.templates.ALPACA`,
  the one training renders rows with) with the question as the instruction; the response is
  opened with ``Let's think step by step.``. Final-answer marker ``The answer is:``.
- ``gsm8k``: few-shot (5), the lm-evaluation-harness layout ``Question: ...\nAnswer: ...``
  with solutions ending ``#### N``. Marker ``####``.
- ``gsm8k_cot``: few-shot (8) chain of thought, ``Q: ...\nA: ... The answer is N.``.
  Marker ``The answer is``.
- ``chat``: zero-shot chain of thought in the model's own chat template, asking for a last
  line ``The answer is N.``. Marker ``The answer is`` (also ``Final answer:``).

``gsm8k`` and ``gsm8k_cot`` use evolkit's own worked examples by default, or ``k`` examples
drawn from a GSM8K train file that the user passes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from attrs import field, frozen

from evolkit._registry import by_name
from evolkit._types import ChatMessage
from evolkit.errors import ConfigError, UnknownNameError
from evolkit.evaluate._data import GSM8KData, strip_calculator_notes
from evolkit.evaluate._exemplars import EXEMPLARS
from evolkit.templates import ALPACA

__all__ = [
    "CHAT_INSTRUCTION",
    "STYLES",
    "WIZARDMATH_RESPONSE_START",
    "Exemplar",
    "Prompt",
    "PromptStyle",
    "get_style",
]

Exemplar = tuple[str, str]
"""A worked example: ``(question, solution in the GSM8K layout ending "#### N")``."""

WIZARDMATH_RESPONSE_START = "Let's think step by step."
CHAT_INSTRUCTION = (
    "Work through the problem step by step. Finish with a last line of the form "
    '"The answer is N." where N is the final number.'
)


@frozen
class Prompt:
    """One prompt: plain ``text`` for a completion model, or chat ``messages``."""

    text: str | None = None
    messages: tuple[ChatMessage, ...] | None = None

    def as_messages(self) -> list[ChatMessage]:
        """Chat messages for a chat API: a plain-text prompt becomes one user message."""
        if self.messages is not None:
            return list(self.messages)
        return [{"role": "user", "content": self.text or ""}]

    def display(self) -> str:
        """The prompt as one string, for records (chat turns shown as ``role: content``)."""
        if self.text is not None:
            return self.text
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in self.messages or ())


Renderer = Callable[[str, Sequence[Exemplar]], Prompt]


@frozen
class PromptStyle:
    """A named way of prompting for GSM8K and of reading the answer back.

    ``marker`` is the final-answer pattern of the strict layer of extraction; ``stop`` are the
    strings generation stops at; ``num_fewshot`` is the default number of worked examples (0
    for a zero-shot style); ``chat`` styles are rendered by the model's chat template.
    """

    name: str
    description: str
    marker: re.Pattern[str]
    stop: tuple[str, ...]
    num_fewshot: int
    chat: bool
    _render: Renderer = field(repr=False, alias="render")

    def prompt(self, question: str, exemplars: Sequence[Exemplar] = ()) -> Prompt:
        """The prompt for ``question`` with ``exemplars`` (ignored by zero-shot styles)."""
        return self._render(question, exemplars)

    def exemplars(
        self,
        fewshot: GSM8KData | None = None,
        k: int | None = None,
        *,
        seed: int = 0,
        strip_calculator: bool = False,
    ) -> tuple[Exemplar, ...]:
        """The worked examples to show: ``k`` of evolkit's own, or ``k`` drawn from ``fewshot``.

        The draw from ``fewshot`` uses ``seed``, so the same examples precede every question.
        """
        k = self.num_fewshot if k is None else k
        if k < 0:
            raise ConfigError(f"num_fewshot must be >= 0, got {k}")
        if k and not self.num_fewshot:
            raise ConfigError(f"style {self.name!r} is zero-shot: leave num_fewshot at 0")
        if fewshot is not None:
            if k > len(fewshot):
                raise ConfigError(
                    f"asked for {k} few-shot examples but {fewshot.source} has {len(fewshot)}"
                )
            drawn = random.Random(seed).sample(list(fewshot.items), k)
            pairs = tuple((item.question, item.solution) for item in drawn)
        else:
            if k > len(EXEMPLARS):
                raise ConfigError(
                    f"evolkit has {len(EXEMPLARS)} built-in examples, asked for {k}: pass a "
                    "GSM8K train file to draw more (--fewshot-data FILE)"
                )
            pairs = EXEMPLARS[:k]
        if strip_calculator:
            pairs = tuple((q, strip_calculator_notes(s)) for q, s in pairs)
        return pairs


def _split_solution(solution: str) -> tuple[str, str]:
    reasoning, _, final = solution.rpartition("####")
    return reasoning.strip(), final.strip()


def _wizardmath(question: str, exemplars: Sequence[Exemplar]) -> Prompt:
    return Prompt(text=ALPACA.render(question) + WIZARDMATH_RESPONSE_START)


def _gsm8k(question: str, exemplars: Sequence[Exemplar]) -> Prompt:
    shots = "".join(f"Question: {q}\nAnswer: {s}\n\n" for q, s in exemplars)
    return Prompt(text=f"{shots}Question: {question}\nAnswer:")


def _cot_answer(solution: str) -> str:
    reasoning, final = _split_solution(strip_calculator_notes(solution))
    sentences = " ".join(line.strip() for line in reasoning.splitlines() if line.strip())
    return f"{sentences} The answer is {final}."


def _gsm8k_cot(question: str, exemplars: Sequence[Exemplar]) -> Prompt:
    shots = "".join(f"Q: {q}\nA: {_cot_answer(s)}\n\n" for q, s in exemplars)
    return Prompt(text=f"{shots}Q: {question}\nA:")


def _chat(question: str, exemplars: Sequence[Exemplar]) -> Prompt:
    message: ChatMessage = {"role": "user", "content": f"{question}\n\n{CHAT_INSTRUCTION}"}
    return Prompt(messages=(message,))


_ANSWER_IS = re.compile(r"the answer is\s*:?", re.IGNORECASE)

STYLES: dict[str, PromptStyle] = by_name(
    PromptStyle(
        name="wizardmath",
        description="zero-shot Alpaca prompt, response opened with step-by-step reasoning",
        marker=_ANSWER_IS,
        stop=(ALPACA.instruction_header, ALPACA.response_header, ALPACA.input_header),
        num_fewshot=0,
        chat=False,
        render=_wizardmath,
    ),
    PromptStyle(
        name="gsm8k",
        description="few-shot 'Question:/Answer:' with '#### N', as lm-evaluation-harness",
        marker=re.compile(r"####"),
        stop=("Question:", "</s>", "<|im_end|>"),
        num_fewshot=5,
        chat=False,
        render=_gsm8k,
    ),
    PromptStyle(
        name="gsm8k_cot",
        description="8-shot chain of thought 'Q:/A:' ending 'The answer is N.'",
        marker=_ANSWER_IS,
        stop=("\nQ:", "</s>", "<|im_end|>"),
        num_fewshot=8,
        chat=False,
        render=_gsm8k_cot,
    ),
    PromptStyle(
        name="chat",
        description="zero-shot chain of thought in the model's own chat template",
        marker=re.compile(r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*:?", re.IGNORECASE),
        stop=(),
        num_fewshot=0,
        chat=True,
        render=_chat,
    ),
)


def get_style(style: str | PromptStyle) -> PromptStyle:
    """The style called ``style`` (a :class:`PromptStyle` is returned as it is)."""
    if isinstance(style, PromptStyle):
        return style
    try:
        return STYLES[style]
    except KeyError:
        raise UnknownNameError("prompt style", style, list(STYLES)) from None
