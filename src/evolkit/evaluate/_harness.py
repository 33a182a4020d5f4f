"""The scoring rules of lm-evaluation-harness's GSM8K tasks, for figures comparable with it.

The harness scores a generation twice, by string comparison rather than by value:

* ``strict-match`` takes the first match of the task's answer pattern (``#### N`` for
  ``gsm8k``, ``The answer is N.`` for ``gsm8k_cot``);
* ``flexible-extract`` takes the last match of a loose number pattern anywhere in the output.

Both the extracted text and the gold solution are then normalised (commas, dollar signs,
everything up to ``#### `` and one trailing period removed, lower-cased) and compared for
equality. An output without a match becomes ``[invalid]``. These rules are re-implemented here
from their description; :func:`evolkit.evaluate.extract_answer` is evolkit's own, more lenient,
value-based extraction.
"""

from __future__ import annotations

import re

__all__ = [
    "FLEXIBLE_PATTERN",
    "INVALID",
    "STRICT_PATTERNS",
    "harness_extract",
    "harness_match",
    "harness_normalize",
]

INVALID = "[invalid]"

STRICT_PATTERNS: dict[str, re.Pattern[str]] = {
    "gsm8k": re.compile(r"#### (\-?[0-9\.\,]+)"),
    "gsm8k_cot": re.compile(r"The answer is (\-?[0-9\.\,]+)."),
}
FLEXIBLE_PATTERN = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")

_IGNORE = (re.compile(","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$"))


def harness_extract(output: str, pattern: re.Pattern[str], *, last: bool = False) -> str:
    """The first (or ``last``) match of ``pattern`` in ``output``, stripped, or ``[invalid]``.

    With several groups, the first non-empty group of the chosen match is used.
    """
    matches = pattern.findall(output)
    if not matches:
        return INVALID
    chosen = matches[-1] if last else matches[0]
    if isinstance(chosen, tuple):
        groups = [group for group in chosen if group]
        if not groups:
            return INVALID
        chosen = groups[0]
    return str(chosen).strip()


def harness_normalize(text: str) -> str:
    """Normalise a prediction or a reference the way the harness's exact match does."""
    for pattern in _IGNORE:
        text = pattern.sub("", text)
    return text.lower()


def harness_match(output: str, solution: str, style: str) -> tuple[bool | None, bool]:
    """``(strict, flexible)`` correctness of ``output`` against the gold ``solution``.

    ``strict`` is None for a style the harness has no strict pattern for (``wizardmath``,
    ``chat``); ``flexible`` is defined for every style.
    """
    reference = harness_normalize(solution)
    flexible = harness_normalize(harness_extract(output, FLEXIBLE_PATTERN, last=True)) == reference
    pattern = STRICT_PATTERNS.get(style)
    if pattern is None:
        return None, flexible
    strict = harness_normalize(harness_extract(output, pattern)) == reference
    return strict, flexible
