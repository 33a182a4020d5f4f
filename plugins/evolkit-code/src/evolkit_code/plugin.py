"""The evolkit plugin: registers the code operators and filter, all used only when selected.

Loaded through the ``evolkit`` entry point ``code = "evolkit_code.plugin"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolkit.hookspecs import hookimpl

from evolkit_code.filters import PythonParsesFilter
from evolkit_code.operators import CODE_MUTATORS

if TYPE_CHECKING:
    from evolkit.plugins import FilterRegistry, MutatorRegistry

__all__ = ["evolkit_register_filters", "evolkit_register_mutators"]


@hookimpl
def evolkit_register_mutators(registry: MutatorRegistry) -> None:
    """The five ``code.*`` operators, used only when asked for (``--operators code``)."""
    for mutator in CODE_MUTATORS:
        registry.add(mutator, default=False)


@hookimpl
def evolkit_register_filters(registry: FilterRegistry) -> None:
    """``code.python_parses``, used only when named (``--filters ...,code.python_parses``)."""
    registry.add(PythonParsesFilter(), default=False)
