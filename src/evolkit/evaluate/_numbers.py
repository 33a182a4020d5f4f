"""Numbers as they appear in model outputs: find them, parse them, compare them.

A number in a math answer may carry thousands separators (``1,450,000``), a currency sign
(``$18``), a sign (``-4``, also the Unicode minus ``−4``), a percent sign or a unit after it
(``25%``, ``18 eggs``), a sentence-ending period (``18.``), decimals (``0.75``) or be a simple
fraction (``3/4``). Values are kept exact as :class:`fractions.Fraction` and compared with a
small tolerance.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "NUMBER_RE",
    "find_numbers",
    "format_number",
    "numbers_match",
    "parse_number",
]

_MINUS = "-\u2212\u2013"  # hyphen-minus, Unicode minus, en dash

# One number token. The look-behind keeps the sign and the digits from being read out of the
# middle of a word, a decimal or an expression such as ``10-4`` (which holds 10 and 4, not -4).
NUMBER_RE = re.compile(
    rf"""
    (?<![\w./])
    (?P<sign>[{_MINUS}])?
    (?P<currency>\$\s?)?
    (?P<digits>
        \d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?       # 1,450,000 or 1,450.25
      | \d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?        # 42, 0.75, 3/4
      | \.\d+                                   # .5
    )
    (?!\d)
    """,
    re.VERBOSE,
)


def _to_fraction(digits: str) -> Fraction | None:
    text = digits.replace(",", "").replace(" ", "")
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            denominator = Fraction(den)
            if denominator == 0:
                return None
            return Fraction(num) / denominator
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def find_numbers(text: str) -> list[tuple[Fraction, str]]:
    """Every number in ``text``, in order, as ``(value, matched text)``."""
    found: list[tuple[Fraction, str]] = []
    for match in NUMBER_RE.finditer(text):
        value = _to_fraction(match["digits"])
        if value is None:
            continue
        if match["sign"]:
            value = -value
        found.append((value, match.group(0)))
    return found


def parse_number(text: str) -> Fraction | None:
    """The first number in ``text`` (see the module docstring for the forms it reads), or None.

    >>> parse_number("$1,450,000.")
    Fraction(1450000, 1)
    >>> parse_number("3/4 of the tank")
    Fraction(3, 4)
    """
    numbers = find_numbers(text)
    return numbers[0][0] if numbers else None


def numbers_match(
    predicted: Fraction | float | None,
    gold: Fraction | float | None,
    *,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-6,
) -> bool:
    """Whether two answers are the same number, within ``abs_tol`` or ``rel_tol`` of the gold."""
    if predicted is None or gold is None:
        return False
    difference = abs(Fraction(predicted) - Fraction(gold))
    return difference <= max(Fraction(abs_tol), Fraction(rel_tol) * abs(Fraction(gold)))


def format_number(value: Fraction) -> str:
    """A canonical text form: ``18``, ``-0.75``, ``1/3`` (for values without a short decimal)."""
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    short = f"{as_float:.6f}".rstrip("0").rstrip(".")
    if Fraction(short) == value:
        return short
    return f"{value.numerator}/{value.denominator}"
