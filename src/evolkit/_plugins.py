"""The plugin manager: built-in plugins, entry points, disabling by environment variable.

``EVOLKIT_DISABLE_PLUGINS`` holds a comma-separated list of plugin names (an entry-point name,
the distribution that ships it, or a built-in such as ``evolkit.filters``) to leave out.
``EVOLKIT_DISABLE_PLUGINS=entrypoints`` leaves out every third-party plugin.
"""

from __future__ import annotations

import functools
import importlib
import os
import warnings
from types import CodeType
from typing import Any, TypeVar

import pluggy
from attrs import frozen

from evolkit import hookspecs
from evolkit._registry import (
    BackendRegistry,
    FilterRegistry,
    MutatorRegistry,
    ScorerRegistry,
    Source,
    _Registry,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginLoadWarning",
    "Plugins",
    "default_plugins",
]

ENTRY_POINT_GROUP = "evolkit"
DISABLE_ENV = "EVOLKIT_DISABLE_PLUGINS"
BUILTIN_PLUGINS = (
    "evolkit.operators",
    "evolkit.filters",
    "evolkit.backends",
    "evolkit.score.builtin",
)

R = TypeVar("R", bound=_Registry[Any])


class PluginLoadWarning(UserWarning):
    """A third-party plugin could not be loaded; the rest of evolkit still works."""


@frozen
class PluginInfo:
    name: str
    package: str
    version: str


def _disabled_from_env() -> frozenset[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


class Plugins:
    """A pluggy plugin manager with evolkit's hooks, and the registries built from it.

    Registries are rebuilt from the registered plugins on each call, so registering or
    unregistering a plugin takes effect at once.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("evolkit")
        self.pm.add_hookspecs(hookspecs)
        self._packages: dict[str, tuple[str, str]] = {}

    @classmethod
    def load(cls, *, entry_points: bool = True, disabled: frozenset[str] | None = None) -> Plugins:
        """Built-in plugins plus, unless ``entry_points=False``, every installed plugin."""
        off = _disabled_from_env() if disabled is None else disabled
        plugins = cls()
        for module_name in BUILTIN_PLUGINS:
            if module_name in off:
                continue
            module = importlib.import_module(module_name)
            plugins.register(module, name=module_name, package="evolkit")
        if entry_points and "entrypoints" not in off:
            plugins._load_entry_points(off)
        return plugins

    def _load_entry_points(self, off: frozenset[str]) -> None:
        from importlib import metadata

        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            package = dist.metadata["Name"] if dist is not None else ep.value.split(":")[0]
            version = dist.version if dist is not None else ""
            if ep.name in off or package in off or self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take evolkit down
                warnings.warn(
                    f"evolkit plugin {ep.name!r} from package {package!r} failed to load and "
                    f"is skipped: {type(exc).__name__}: {exc} "
                    f"(reinstall or fix it, or set {DISABLE_ENV}={ep.name})",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            self.register(plugin, name=ep.name, package=package, version=version)

    def register(
        self, plugin: object, name: str | None = None, *, package: str = "", version: str = ""
    ) -> str:
        """Register a plugin object (a module or an instance with ``@hookimpl`` methods)."""
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked or already registered")
        self._packages[registered] = (package or registered, version)
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> None:
        removed = self.pm.unregister(plugin=plugin, name=name)
        if removed is not None:
            self._packages.pop(self.pm.get_name(removed) or "", None)

    def info(self) -> list[PluginInfo]:
        """Each registered plugin with the package that shipped it."""
        out = []
        for name, _ in self.pm.list_name_plugin():
            package, version = self._packages.get(name, (name, ""))
            if package == "evolkit" and not version:
                version = _evolkit_version()
            out.append(PluginInfo(name, package, version))
        return out

    def _fill(self, registry: R, hook_name: str) -> R:
        """Call the hook through pluggy's hook caller (so ``wrapper=True``, ``tryfirst`` and
        ``trylast`` implementations and pluggy's tracing work) with ``registry``; each entry
        is credited to the plugin whose implementation added it, and the entries end in the
        plugins' registration order, whatever order pluggy called them in."""
        hook: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        order = {name: i for i, (name, _) in enumerate(self.pm.list_name_plugin())}
        sources: dict[CodeType, list[tuple[object, Source]]] = {}
        for impl in hook.get_hookimpls():
            package, _ = self._packages.get(impl.plugin_name, (impl.plugin_name, ""))
            source = Source(impl.plugin_name, package, order.get(impl.plugin_name, 0))
            fn: Any = impl.function
            bound = getattr(fn, "__self__", None)
            code = getattr(getattr(fn, "__func__", fn), "__code__", None)
            if isinstance(code, CodeType):
                sources.setdefault(code, []).append((bound, source))
        registry._attribute(sources)
        try:
            hook(registry=registry)
        finally:
            registry._attribute({})
        registry._in_registration_order()
        return registry

    def mutators(self) -> MutatorRegistry:
        return self._fill(MutatorRegistry(), "evolkit_register_mutators")

    def filters(self) -> FilterRegistry:
        return self._fill(FilterRegistry(), "evolkit_register_filters")

    def backends(self) -> BackendRegistry:
        return self._fill(BackendRegistry(), "evolkit_register_backends")

    def scorers(self) -> ScorerRegistry:
        return self._fill(ScorerRegistry(), "evolkit_register_scorers")


def _evolkit_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("evolkit")
    except metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=1)
def default_plugins() -> Plugins:
    """The process-wide plugins: built-ins plus installed entry points, loaded once.

    ``evolkit.testing``'s ``evolkit_plugin`` fixture registers a plugin here for one test.
    Call ``default_plugins.cache_clear()`` to reload (after installing a package, say).
    """
    return Plugins.load()
