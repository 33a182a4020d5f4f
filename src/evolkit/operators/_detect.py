"""Does an instruction carry data (code, a table, JSON, a formula, numbers) that can be changed?"""

from __future__ import annotations

import re

from evolkit._types import Instruction

__all__ = ["carries_data"]

_CODE_FENCE = re.compile(r"```")
_INLINE_CODE = re.compile(r"`[^`\n]*[(){}\[\]=;.][^`\n]*`")
# A markdown table: a header row and a separator row such as |---|:--:|.
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
_TABLE_ROW = re.compile(r"^\s*\|.*\|.*\|\s*$", re.MULTILINE)
# JSON-like: an object with a quoted key, or an array of at least two items.
_JSON_OBJECT = re.compile(r"\{\s*[\"'][^\"']+[\"']\s*:")
_JSON_ARRAY = re.compile(r"\[\s*[^\[\]\s,][^\[\]]*,[^\[\]]*\]")
# Source code: lower-case keywords at the start of a line, or a call with a statement end.
_CODE_LINE = re.compile(
    r"^\s*(def|class|import|from\s+\w+\s+import|return|function|const|let|var|public|"
    r"private|#include|SELECT|INSERT|UPDATE|CREATE\s+TABLE|for\s*\(|while\s*\(|if\s*\()\b",
    re.MULTILINE,
)
_STATEMENT = re.compile(r"\w\([^()\n]*\)\s*[;{]")
# A formula: arithmetic with a number, an equation, a comparison, or LaTeX. A hyphen counts as
# minus only with spaces around it, so "500-word" and "well-known" are not formulas.
_ARITHMETIC = re.compile(
    r"\d\s*[+*/×÷^]\s*[\w(]|[\w)]\s*[+*/×÷^]\s*\d"
    r"|\d\s+[-−]\s+[\w(]|[\w)]\s+[-−]\s+\d"
)
_EQUATION = re.compile(r"[\w)\]]\s*=\s*[-−\w(]|\w\s*(?:[<>]=?|[≤≥])\s*-?\d")
_LATEX = re.compile(r"\\(?:frac|sqrt|sum|int|cdot|times|leq?|geq?|pi)\b|\$[^$\n]+\$")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)?%?")

MIN_NUMBERS = 3


def carries_data(instruction: Instruction) -> bool:
    """Whether ``instruction`` carries data that a rewrite can make more complex.

    True for a non-empty input, a code fence or a line of code, a markdown table, JSON, a
    formula or equation, or at least three numbers in the text. An instruction that is only
    prose ("Explain photosynthesis.") carries none.
    """
    if instruction.input.strip():
        return True
    text = instruction.text
    if _CODE_FENCE.search(text) or _INLINE_CODE.search(text):
        return True
    if _TABLE_SEPARATOR.search(text) or len(_TABLE_ROW.findall(text)) >= 2:
        return True
    if _JSON_OBJECT.search(text) or _JSON_ARRAY.search(text):
        return True
    if _CODE_LINE.search(text) or _STATEMENT.search(text):
        return True
    if _LATEX.search(text) or _EQUATION.search(text) or _ARITHMETIC.search(text):
        return True
    return len(_NUMBER.findall(text)) >= MIN_NUMBERS
