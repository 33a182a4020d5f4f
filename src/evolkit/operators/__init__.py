"""Built-in mutation operators, and :class:`TemplateMutator` for writing new ones.

In-depth evolving (kind ``"depth"``) makes an instruction a little harder:
``depth.add_constraints``, ``depth.deepen``, ``depth.concretize``,
``depth.increase_reasoning`` and ``depth.complicate_input`` (only for instructions that carry
data). In-breadth evolving (kind ``"breadth"``), ``breadth.mutate``, writes a new, rarer
instruction in the same domain.

An operator may declare the shape of its reply (:class:`ReplyShape`, see
:class:`~evolkit._protocols.ShapedMutator`) so that a backend that constrains decoding can only
return a well-formed rewrite; every ``TemplateMutator`` does.

This module is itself a plugin: it registers the operators through
``evolkit_register_mutators`` like any third-party package would.
"""

from __future__ import annotations

from typing import Any

from evolkit._registry import MutatorRegistry
from evolkit._shapes import ReplyField, ReplyShape, ShapeMismatch, rewrite_shape
from evolkit.hookspecs import hookimpl
from evolkit.operators import prompts
from evolkit.operators._detect import carries_data
from evolkit.operators._reply import (
    asks_for_something,
    extract_input,
    extract_rewrite,
    looks_like_answer,
)
from evolkit.operators._template import InputMode, TemplateMutator

__all__ = [
    "ADD_CONSTRAINTS",
    "BREADTH_MUTATE",
    "BUILTIN_MUTATORS",
    "COMPLICATE_INPUT",
    "CONCRETIZE",
    "DEEPEN",
    "INCREASE_REASONING",
    "InputMode",
    "ReplyField",
    "ReplyShape",
    "ShapeMismatch",
    "TemplateMutator",
    "asks_for_something",
    "carries_data",
    "evolkit_register_mutators",
    "extract_input",
    "extract_rewrite",
    "looks_like_answer",
    "rewrite_shape",
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


@hookimpl
def evolkit_register_mutators(registry: MutatorRegistry) -> None:
    """Register the six built-in operators, all used by default."""
    # Typed loosely: mypy reads a frozen attrs field as read-only, while the Mutator protocol
    # declares ``name``/``kind`` as plain attributes; at run time they satisfy it.
    mutators: tuple[Any, ...] = BUILTIN_MUTATORS
    for mutator in mutators:
        registry.add(mutator, default=True)
