"""The hooks a plugin implements. Each receives one typed registry and adds to it.

A plugin is any module or object with functions marked ``@evolkit.hookimpl`` whose names match
these specs, exposed through the ``evolkit`` entry-point group::

    [project.entry-points.evolkit]
    my_plugin = "my_package.plugin"

The built-in operators, filters and backends register through these same hooks. evolkit calls
each hook through pluggy's hook caller, so ``@hookimpl(tryfirst=True)``, ``trylast`` and
``wrapper=True`` implementations work as pluggy documents; the registries' entries keep the
plugins' registration order. The registry types are public in :mod:`evolkit.plugins`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from evolkit.plugins import (
        BackendRegistry,
        FilterRegistry,
        MutatorRegistry,
        ScorerRegistry,
    )

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("evolkit")
hookimpl = pluggy.HookimplMarker("evolkit")


@hookspec
def evolkit_register_mutators(registry: MutatorRegistry) -> None:
    """Register mutation operators.

    Call ``registry.add(mutator)`` for each object that implements :class:`evolkit.Mutator`.
    Pass ``default=False`` for operators a run should use only when asked for by name or kind
    (``--operators math.upward``).
    """


@hookspec
def evolkit_register_filters(registry: FilterRegistry) -> None:
    """Register eliminator filters.

    Call ``registry.add(filter)`` for each object that implements :class:`evolkit.Filter`.
    A plugin's filter runs only when named (``--filters my.filter``) unless it is added with
    ``default=True``: then it runs in every run where the user does not pick filters.
    """


@hookspec
def evolkit_register_backends(registry: BackendRegistry) -> None:
    """Register model backends.

    Call ``registry.add(name, factory, matches=...)``. ``factory(model, params)`` returns an
    object that implements :class:`evolkit.Backend`. A model string is handled by the first
    backend whose ``matches(model)`` is true (by default: it starts with ``name + "/"``);
    everything else goes to the ``litellm`` backend.
    """


@hookspec
def evolkit_register_scorers(registry: ScorerRegistry) -> None:
    """Register row scorers for ``evolkit score`` (a reward model, a trained scorer, a rule).

    Call ``registry.add(scorer)`` for each object that implements :class:`evolkit.Scorer`.
    Scorers added with ``default=True`` run when the user names no scores; the others run
    only when named (``--scores my.reward``).
    """
