"""The six built-in operators: five in-depth methods and in-breadth mutation."""

from __future__ import annotations

from evolkit.operators import prompts
from evolkit.operators._detect import carries_data
from evolkit.operators._template import TemplateMutator

__all__ = [
    "ADD_CONSTRAINTS",
    "BREADTH_MUTATE",
    "BUILTIN_MUTATORS",
    "COMPLICATE_INPUT",
    "CONCRETIZE",
    "DEEPEN",
    "INCREASE_REASONING",
]

ADD_CONSTRAINTS = TemplateMutator(
    name="depth.add_constraints",
    kind="depth",
    template=prompts.ADD_CONSTRAINTS,
    variants=prompts.ADD_CONSTRAINTS_VARIANTS,
    description="adds one constraint or requirement",
)

DEEPEN = TemplateMutator(
    name="depth.deepen",
    kind="depth",
    template=prompts.DEEPEN,
    variants=prompts.DEEPEN_VARIANTS,
    description="asks about the topic in more depth or breadth",
)

CONCRETIZE = TemplateMutator(
    name="depth.concretize",
    kind="depth",
    template=prompts.CONCRETIZE,
    variants=prompts.CONCRETIZE_VARIANTS,
    description="replaces a general idea with a specific one",
)

INCREASE_REASONING = TemplateMutator(
    name="depth.increase_reasoning",
    kind="depth",
    template=prompts.INCREASE_REASONING,
    variants=prompts.INCREASE_REASONING_VARIANTS,
    description="makes the answer need several reasoning steps",
)

COMPLICATE_INPUT = TemplateMutator(
    name="depth.complicate_input",
    kind="depth",
    template=prompts.COMPLICATE_INPUT,
    variants=prompts.COMPLICATE_INPUT_VARIANTS,
    predicate=carries_data,
    input_mode="rewrite",
    description="makes the data (input, code, table, JSON, formula) more complex",
)

BREADTH_MUTATE = TemplateMutator(
    name="breadth.mutate",
    kind="breadth",
    template=prompts.BREADTH,
    variants=prompts.BREADTH_VARIANTS,
    input_mode="drop",
    description="a new, rarer instruction in the same domain, as long and as hard",
)

BUILTIN_MUTATORS: tuple[TemplateMutator, ...] = (
    ADD_CONSTRAINTS,
    DEEPEN,
    CONCRETIZE,
    INCREASE_REASONING,
    COMPLICATE_INPUT,
    BREADTH_MUTATE,
)
"""The built-in operators, in the order they are registered."""
