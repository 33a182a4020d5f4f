"""``math.upward`` and ``math.downward``: a harder, or an easier, problem of the same kind.

Both are :class:`evolkit.operators.TemplateMutator` operators of kind ``"math"``. Which way a
problem is made harder (or easier) is one of the variants in :mod:`evolkit_math.prompts`,
drawn with the engine's seeded ``rng``, so a run is reproducible.
"""

from __future__ import annotations

import re

from evolkit import Instruction
from evolkit.operators import TemplateMutator

from evolkit_math import prompts

__all__ = ["DOWNWARD", "MATH_MUTATORS", "UPWARD", "looks_like_math"]

_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|half|third|quarter|twice|double|triple|dozen|"
    r"percent|how many|how much|calculate|compute|solve|equation|sum|product|total|average)\b",
    re.IGNORECASE,
)


def looks_like_math(instruction: Instruction) -> bool:
    """Whether ``instruction`` reads like a math problem: it has a digit or a number word.

    Deliberately generous: it only keeps the math operators away from instructions with no
    quantity at all ("Write a poem about autumn.") when they are mixed with other operators.
    """
    text = f"{instruction.text}\n{instruction.input}"
    return any(ch.isdigit() for ch in text) or bool(_NUMBER_WORDS.search(text))


UPWARD = TemplateMutator(
    name="math.upward",
    kind="math",
    template=prompts.UPWARD,
    variants=prompts.UPWARD_VARIANTS,
    system=prompts.SYSTEM,
    predicate=looks_like_math,
    description="a harder problem: more steps, more quantities, a new condition, a harder area",
)

DOWNWARD = TemplateMutator(
    name="math.downward",
    kind="math",
    template=prompts.DOWNWARD,
    variants=prompts.DOWNWARD_VARIANTS,
    system=prompts.SYSTEM,
    predicate=looks_like_math,
    description="an easier problem of the same kind, widening the range of difficulty",
)

MATH_MUTATORS: tuple[TemplateMutator, ...] = (UPWARD, DOWNWARD)
"""The math operators, in the order they are registered."""
