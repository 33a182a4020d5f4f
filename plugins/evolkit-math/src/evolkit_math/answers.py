"""Reading the final answer of a solution, with the number parsing of ``evolkit.evaluate``.

A solution's final answer is, in this order (the same layers the GSM8K evaluation reads):

1. the first number after the last ``The answer is`` (colon optional, ``The final answer
   is`` too) or ``####``, on that line or the next;
2. the number in the last ``\\boxed{...}``;
3. a number on the last non-blank line ("So she pays $21.").

Numbers are read by :func:`evolkit.evaluate.find_numbers`: thousands commas (``1,250``),
a currency sign, a sign, decimals and simple fractions; values compare exactly, so ``0.5``,
``.50`` and ``1/2`` are the same answer and :func:`canonical` writes it one way.
"""

from __future__ import annotations

import re
from fractions import Fraction

from evolkit.evaluate import Extraction, extract_answer, find_numbers, format_number

__all__ = [
    "ANSWER_MARKER",
    "ANSWER_PHRASE",
    "answer_text",
    "canonical",
    "final_answer",
    "parse_number",
    "read_answer",
]

ANSWER_PHRASE = "The answer is:"
"""The form the math prompts ask for."""

ANSWER_MARKER = re.compile(r"\bthe\s+(?:final\s+)?answer\s+is\b\s*:?|####", re.IGNORECASE)
"""Where a final answer is announced: ``The answer is``, ``The final answer is`` or ``####``."""


def parse_number(text: str) -> Fraction | None:
    """The value of ``text`` when all of it is one number, else None.

    >>> parse_number("1,250.5")
    Fraction(2501, 2)
    >>> parse_number("12 apples") is None
    True
    """
    stripped = text.strip()
    numbers = find_numbers(stripped)
    if len(numbers) == 1 and numbers[0][1].strip() == stripped:
        return numbers[0][0]
    return None


def canonical(value: Fraction) -> str:
    """One spelling per value: ``42``, ``-3.25``, or ``1/3`` (see ``format_number``)."""
    return format_number(value)


def _last_line(solution: str) -> str:
    lines = [line for line in solution.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_answer(solution: str) -> Extraction | None:
    """The final answer of ``solution`` and the layer it came from, or None."""
    found = extract_answer(solution, ANSWER_MARKER)
    if found.layer in ("marker", "boxed"):
        return found
    if found.layer == "last_number" and find_numbers(_last_line(solution)):
        return found
    return None


def answer_text(solution: str) -> str | None:
    """What follows the last answer marker on its line (less one full stop), or None."""
    matches = list(ANSWER_MARKER.finditer(solution))
    if not matches:
        return None
    tail = solution[matches[-1].end() :].split("\n", 1)[0].strip()
    return tail[:-1].rstrip() if tail.endswith(".") else tail


def final_answer(solution: str) -> str | None:
    """The canonical final answer of ``solution`` (see :func:`read_answer`), or None.

    >>> final_answer("3 boxes of 12 is 36.\\nThe answer is: 36")
    '36'
    >>> final_answer("So the total is \\\\boxed{1,250}.")
    '1250'
    >>> final_answer("She pays 3 + 4 dollars.\\nI hope this helps!") is None
    True
    """
    found = read_answer(solution)
    return None if found is None or found.value is None else canonical(found.value)
