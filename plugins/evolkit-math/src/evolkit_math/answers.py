"""Reading the final answer of a solution: the last line ``The answer is: N``.

``N`` is a number: an optional sign, digits with optional thousands commas (``1,250``), an
optional decimal part (``3.75``, ``.5``), or a fraction of two integers (``-7/4``). A trailing
full stop is allowed. Answers compare by value, so ``0.5``, ``.50`` and ``1/2`` are the same
answer; :func:`canonical` writes the value one way.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "ANSWER_PHRASE",
    "answer_text",
    "canonical",
    "final_answer",
    "parse_number",
]

ANSWER_PHRASE = "The answer is:"

_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DECIMAL = rf"(?:{_INT}(?:\.\d+)?|\.\d+)"
_NUMBER = re.compile(rf"[-+−]?(?:{_INT}\s*/\s*{_INT}|{_DECIMAL})")


def parse_number(text: str) -> Fraction | None:
    """The value of ``text`` when all of it is one number in the accepted form, else None.

    >>> parse_number("1,250.5")
    Fraction(2501, 2)
    >>> parse_number("12,34") is None
    True
    """
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    cleaned = text.replace("−", "-").replace(",", "").replace(" ", "")
    try:
        return Fraction(cleaned)
    except ZeroDivisionError:
        return None


def canonical(value: Fraction) -> str:
    """One spelling per value: ``42``, ``-3.25``, or ``1/3`` when no finite decimal exists."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    whole = magnitude.numerator // magnitude.denominator
    rest = magnitude - whole
    digits = ""
    while rest:
        rest *= 10
        digit = rest.numerator // rest.denominator
        digits += str(digit)
        rest -= digit
    return f"{sign}{whole}.{digits}"


def answer_text(solution: str) -> str | None:
    """What follows ``The answer is:`` on the last non-blank line of ``solution``, or None.

    None when the last line does not contain the phrase. The text is returned as written (less
    surrounding spaces and one trailing full stop), number or not.
    """
    lines = [line for line in solution.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    at = last.rfind(ANSWER_PHRASE)
    if at < 0:
        return None
    tail = last[at + len(ANSWER_PHRASE) :].strip()
    return tail[:-1].rstrip() if tail.endswith(".") else tail


def final_answer(solution: str) -> str | None:
    """The canonical final answer of ``solution`` (see :func:`canonical`), or None.

    >>> final_answer("3 boxes of 12 is 36.\\nThe answer is: 36")
    '36'
    >>> final_answer("So she pays $1,250.50 in total.") is None
    True
    """
    text = answer_text(solution)
    if text is None:
        return None
    value = parse_number(text)
    return canonical(value) if value is not None else None
