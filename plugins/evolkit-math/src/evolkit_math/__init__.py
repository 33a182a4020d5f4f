"""evolkit-math: evolve math word problems upward and downward, and check their answers.

Operators (kind ``"math"``, used only when selected, e.g. ``--operators math``):

- ``math.upward``: a harder problem (more steps, more quantities, a new condition, a harder
  area of mathematics);
- ``math.downward``: an easier problem of the same kind, which widens the range of difficulty.

Filters (used only when named, e.g. ``--filters math.final_answer``):

- ``math.final_answer``: the response has a numeric final answer (``The answer is``,
  ``####``, ``\\boxed{}`` or a number on the last line);
- ``math.self_consistency``: a majority of ``k`` fresh solutions reach the same answer.
"""

from __future__ import annotations

from evolkit_math.answers import answer_text, canonical, final_answer, parse_number, read_answer
from evolkit_math.filters import FinalAnswerFilter, SelfConsistencyFilter, Vote
from evolkit_math.operators import DOWNWARD, MATH_MUTATORS, UPWARD, looks_like_math

__all__ = [
    "DOWNWARD",
    "MATH_MUTATORS",
    "UPWARD",
    "FinalAnswerFilter",
    "SelfConsistencyFilter",
    "Vote",
    "answer_text",
    "canonical",
    "final_answer",
    "looks_like_math",
    "parse_number",
    "read_answer",
]

__version__ = "0.1.0"
