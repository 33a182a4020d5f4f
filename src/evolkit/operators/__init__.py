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
from evolkit.operators._builtin import (
    ADD_CONSTRAINTS,
    BREADTH_MUTATE,
    BUILTIN_MUTATORS,
    COMPLICATE_INPUT,
    CONCRETIZE,
    DEEPEN,
    INCREASE_REASONING,
)
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


@hookimpl
def evolkit_register_mutators(registry: MutatorRegistry) -> None:
    """Register the six built-in operators, all used by default."""
    # Typed loosely: mypy reads a frozen attrs field as read-only, while the Mutator protocol
    # declares ``name``/``kind`` as plain attributes; at run time they satisfy it.
    mutators: tuple[Any, ...] = BUILTIN_MUTATORS
    for mutator in mutators:
        registry.add(mutator, default=True)
