"""Read the final answer out of a model's output, in layers.

1. ``marker``: the style's final-answer marker (``The answer is:`` for ``wizardmath``, ``####``
   for ``gsm8k``, ``The answer is`` for ``gsm8k_cot`` and ``chat``); the first number after the
   last marker, on the marker's line (or the next non-blank line).
2. ``boxed``: the last ``\\boxed{...}`` (or ``\\fbox{...}``), LaTeX fractions and text removed.
3. ``last_number``: the last number anywhere in the output.

An answer found by layer 1 counts for the *strict* score; any layer counts for the *flexible*
score; an output with no number at all is *invalid*.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal

from attrs import frozen

from evolkit.evaluate._numbers import find_numbers, format_number

__all__ = ["Extraction", "Layer", "extract_answer", "extract_boxed", "gold_answer"]

Layer = Literal["marker", "boxed", "last_number"]

_MARKUP = re.compile(r"[*_`]|\\\(|\\\)|\\\[|\\\]")


@frozen
class Extraction:
    """The answer found in one output: its value, the text it was read from, and the layer."""

    value: Fraction | None
    text: str | None
    layer: Layer | None

    @property
    def found(self) -> bool:
        """Whether a number was found (an output without one is *invalid*)."""
        return self.value is not None

    @property
    def normalized(self) -> str | None:
        """The value in canonical text form (``"1450000"``, ``"0.75"``), or None."""
        return None if self.value is None else format_number(self.value)


NOT_FOUND = Extraction(None, None, None)


def _first_number_after(text: str, marker: re.Pattern[str]) -> tuple[Fraction, str] | None:
    matches = list(marker.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :]
    lines = rest.split("\n")
    # The marker's own line, else the first non-blank line after it.
    candidates = [lines[0], next((line for line in lines[1:] if line.strip()), "")]
    for line in candidates:
        cleaned = _MARKUP.sub("", line)
        boxed = extract_boxed(cleaned)
        if boxed is not None:
            return boxed
        numbers = find_numbers(_strip_latex(cleaned))
        if numbers:
            return numbers[0]
        if line.strip():
            return None
    return None


def _balanced(text: str, start: int) -> str | None:
    """The text inside the braces that open at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    return None


_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")
_LATEX_NOISE = re.compile(r"\\[,!;: ]|\\(?:left|right|quad|qquad)|\^\s*\{?\\circ\}?|\\%|\\\$")


def _strip_latex(text: str) -> str:
    text = _FRAC.sub(lambda m: f"{m[1].strip()}/{m[2].strip()}", text)
    text = _TEXT.sub(" ", text)
    text = text.replace("{,}", ",")
    return _LATEX_NOISE.sub(lambda m: "$" if m.group(0) == "\\$" else "", text)


def extract_boxed(text: str) -> tuple[Fraction, str] | None:
    """The number in the last ``\\boxed{...}`` of ``text`` as ``(value, box content)``, or None."""
    starts = [m.end() - 1 for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    for start in reversed(starts):
        inner = _balanced(text, start)
        if inner is None:
            continue
        numbers = find_numbers(_strip_latex(inner).replace("{", " ").replace("}", " "))
        if numbers:
            return numbers[0][0], inner.strip()
    return None


def extract_answer(output: str, marker: re.Pattern[str] | None) -> Extraction:
    """The answer in ``output``: the marker layer, then ``\\boxed{}``, then the last number.

    ``marker`` is the style's final-answer pattern (see :class:`evolkit.evaluate.PromptStyle`);
    None skips the first layer.
    """
    if marker is not None:
        hit = _first_number_after(output, marker)
        if hit is not None:
            return Extraction(hit[0], hit[1], "marker")
    boxed = extract_boxed(output)
    if boxed is not None:
        return Extraction(boxed[0], boxed[1], "boxed")
    numbers = find_numbers(_strip_latex(_MARKUP.sub("", output)))
    if numbers:
        value, text = numbers[-1]
        return Extraction(value, text, "last_number")
    return NOT_FOUND


def gold_answer(solution: str) -> Fraction | None:
    """The gold value of a GSM8K solution: the number on its final ``#### N`` line."""
    if "####" not in solution:
        return None
    numbers = find_numbers(solution.rsplit("####", 1)[1])
    return numbers[0][0] if numbers else None
