"""The evolkit plugin: registers the math operators and filters, all used only when selected.

Loaded through the ``evolkit`` entry point ``math = "evolkit_math.plugin"``.
"""

from __future__ import annotations

from typing import Any

from evolkit.hookspecs import hookimpl

from evolkit_math.filters import FinalAnswerFilter, SelfConsistencyFilter
from evolkit_math.operators import MATH_MUTATORS

__all__ = ["evolkit_register_filters", "evolkit_register_mutators"]


@hookimpl
def evolkit_register_mutators(registry: Any) -> None:
    """``math.upward`` and ``math.downward``, used only when asked for (``--operators math``)."""
    # Typed loosely: mypy reads a frozen attrs field as read-only, while the Mutator protocol
    # declares ``name``/``kind`` as plain attributes; at run time they satisfy it.
    for mutator in MATH_MUTATORS:
        registry.add(mutator, default=False)


@hookimpl
def evolkit_register_filters(registry: Any) -> None:
    """``math.final_answer`` and ``math.self_consistency`` (k=5), used only when named."""
    registry.add(FinalAnswerFilter(), default=False)
    registry.add(SelfConsistencyFilter(), default=False)
