"""Prompt text of the math operators and of the self-consistency filter.

The operator prompts are :class:`evolkit.operators.TemplateMutator` templates: ``{instruction}``
is the parent problem in ``<instruction>`` tags and ``{variant}`` one of the variants, drawn
with the engine's seeded ``rng``. The reply format (``<rewrite>`` tags) is appended last by
``TemplateMutator``.
"""

from __future__ import annotations

__all__ = [
    "ANSWER_FORMAT",
    "DOWNWARD",
    "DOWNWARD_VARIANTS",
    "SOLVE",
    "SOLVE_SYSTEM",
    "SYSTEM",
    "UPWARD",
    "UPWARD_VARIANTS",
]

SYSTEM = (
    "You write math word problems for a training data set. "
    "You never solve a problem and never state its answer. You only write a new problem."
)

_RULES = """Rules:
- The new problem must have exactly one correct answer, and that answer must be a number.
- Give every quantity the solver needs inside the problem, and nothing that contradicts it.
- Keep it realistic and clearly worded, and end it with the question to answer.
- Write it as a standalone problem. Do not mention this request, the old problem or any tags.
- Do not solve it and do not give the answer."""

UPWARD = (
    "Write a harder version of the math problem below, where {variant}.\n\n"
    "{instruction}\n\n" + _RULES
)
UPWARD_VARIANTS = (
    "the solution needs two or three more calculation steps",
    "there are more quantities, and every one of them is needed to reach the answer",
    "there is one new condition that the answer has to satisfy",
    "the problem moves to a harder area: ratios, percentages, rates or a simple equation",
    "the numbers are less friendly: fractions, decimals or larger values",
)
"""Ways to make a problem harder: more steps, more quantities, a constraint, a harder domain."""

DOWNWARD = (
    "Write an easier math problem of the same kind as the one below, where {variant}. "
    "Keep the same topic and the same type of question.\n\n"
    "{instruction}\n\n" + _RULES
)
DOWNWARD_VARIANTS = (
    "the solution needs fewer calculation steps",
    "the numbers are smaller and rounder",
    "one condition or one quantity is left out",
    "the question asks for a simpler quantity, such as a first intermediate result",
    "only whole-number arithmetic is needed",
)
"""Ways to make an easier problem of the same kind, which widens the range of difficulty."""

ANSWER_FORMAT = "The answer is: N"
"""The one form of a final answer that :mod:`evolkit_math.answers` reads."""

SOLVE_SYSTEM = "You are a careful mathematician who solves word problems step by step."

SOLVE = """Solve the math problem below. Work through it step by step, checking each calculation.

{problem}

Finish with one last line of exactly this form, where N is only a number (no units):
The answer is: N"""
"""The request the self-consistency filter sends ``k`` times; ``{problem}`` is the problem."""
