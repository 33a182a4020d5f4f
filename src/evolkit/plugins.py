"""The plugin system's public names: the manager, the registries hooks receive, the warning.

>>> from evolkit.plugins import MutatorRegistry, default_plugins
"""

from __future__ import annotations

from evolkit._plugins import (
    BUILTIN_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    PluginInfo,
    PluginLoadWarning,
    Plugins,
    default_plugins,
)
from evolkit._registry import (
    BackendRegistry,
    BackendSpec,
    Entry,
    FilterRegistry,
    MutatorRegistry,
    ScorerRegistry,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "BackendRegistry",
    "BackendSpec",
    "Entry",
    "FilterRegistry",
    "MutatorRegistry",
    "PluginInfo",
    "PluginLoadWarning",
    "Plugins",
    "ScorerRegistry",
    "default_plugins",
]
