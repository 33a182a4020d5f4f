"""Tags the built-in prompts use to delimit text, shared by the prompts, parsers and fake model."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolkit._types import Instruction

__all__ = [
    "INPUT_TAG",
    "INSTRUCTION_TAG",
    "JUDGE_TAGS",
    "REWRITE_TAG",
    "SCORE_FORM",
    "between",
    "described",
    "wrap",
]

INSTRUCTION_TAG = "instruction"
INPUT_TAG = "input"
REWRITE_TAG = "rewrite"
REWRITE_INPUT_TAG = "rewrite_input"
JUDGE_TAGS = ("first", "second")
#: The reply form the score prompts ask for (``Score: N``, or ``[i] Score: N`` per version).
SCORE_FORM = "Score: N"


def wrap(tag: str, text: str) -> str:
    """``<tag>\\ntext\\n</tag>``."""
    return f"<{tag}>\n{text}\n</{tag}>"


def between(tag: str, text: str) -> str | None:
    """The stripped text inside the last complete ``<tag>…</tag>`` of ``text``, or None.

    A reply that opens the tag but never closes it (cut off, or the model forgot) yields the
    text after the opening tag.
    """
    matches = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL | re.IGNORECASE)
    if matches:
        return str(matches[-1]).strip()
    opened = re.search(rf"<{tag}>(.*)$", text, flags=re.DOTALL | re.IGNORECASE)
    if opened:
        return opened.group(1).strip()
    return None


def described(instruction: Instruction) -> str:
    """An instruction with its input, as the judge prompts show it to the model."""
    if instruction.input.strip():
        return f"{instruction.text}\n\nInput:\n{instruction.input}"
    return instruction.text
