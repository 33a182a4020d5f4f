"""Prompt templates shared by training and evaluation, defined once.

A model is evaluated in the format it was trained on: :mod:`evolkit.train` renders rows with
these templates and :mod:`evolkit.evaluate` builds its prompts from the same objects.

``alpaca`` is the instruction format used by Alpaca, WizardLM and WizardMath: a fixed preamble,
then ``### Instruction:`` (and ``### Input:`` when the row has one), then ``### Response:``.
"""

from __future__ import annotations

from attrs import frozen

__all__ = ["ALPACA", "TEMPLATES", "PromptTemplate", "get_template"]


@frozen
class PromptTemplate:
    """A plain-text prompt format: ``render(instruction, input)`` is the prompt, the response
    follows it directly, and the model should end with its end-of-sequence token."""

    name: str
    preamble: str
    preamble_with_input: str
    instruction_header: str
    input_header: str
    response_header: str

    def render(self, instruction: str, input: str = "") -> str:
        """The prompt text for one row; the response is appended to it verbatim."""
        if input.strip():
            return (
                f"{self.preamble_with_input}\n\n"
                f"{self.instruction_header}\n{instruction}\n\n"
                f"{self.input_header}\n{input}\n\n"
                f"{self.response_header}\n"
            )
        return (
            f"{self.preamble}\n\n"
            f"{self.instruction_header}\n{instruction}\n\n"
            f"{self.response_header}\n"
        )


ALPACA = PromptTemplate(
    name="alpaca",
    preamble=(
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request."
    ),
    preamble_with_input=(
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request."
    ),
    instruction_header="### Instruction:",
    input_header="### Input:",
    response_header="### Response:",
)

TEMPLATES: dict[str, PromptTemplate] = {ALPACA.name: ALPACA}


def get_template(name: str) -> PromptTemplate:
    """The template called ``name``; ``"chat"`` is handled by the callers (tokenizer template)."""
    from evolkit.errors import UnknownNameError

    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownNameError("prompt template", name, [*TEMPLATES, "chat"]) from None
