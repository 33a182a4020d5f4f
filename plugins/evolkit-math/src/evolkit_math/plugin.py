"""The evolkit plugin: registers the math operators and filters, all used only when selected.

Loaded through the ``evolkit`` entry point ``math = "evolkit_math.plugin"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolkit.hookspecs import hookimpl

from evolkit_math.filters import FinalAnswerFilter, SelfConsistencyFilter
from evolkit_math.operators import MATH_MUTATORS

if TYPE_CHECKING:
    from evolkit.plugins import FilterRegistry, MutatorRegistry

__all__ = ["evolkit_register_filters", "evolkit_register_mutators"]


@hookimpl
def evolkit_register_mutators(registry: MutatorRegistry) -> None:
    """``math.upward`` and ``math.downward``, used only when asked for (``--operators math``)."""
    for mutator in MATH_MUTATORS:
        registry.add(mutator, default=False)


@hookimpl
def evolkit_register_filters(registry: FilterRegistry) -> None:
    """``math.final_answer`` and ``math.self_consistency`` (k=5), used only when named."""
    registry.add(FinalAnswerFilter(), default=False)
    registry.add(SelfConsistencyFilter(), default=False)
