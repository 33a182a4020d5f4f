"""Typed registries that plugins fill through the hooks in :mod:`evolkit.hookspecs`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from attrs import frozen

from evolkit._protocols import Backend, Filter, Mutator, Scorer
from evolkit.errors import DuplicateNameError, UnknownNameError

__all__ = [
    "BackendRegistry",
    "BackendSpec",
    "Entry",
    "FilterRegistry",
    "MutatorRegistry",
    "ScorerRegistry",
]

T = TypeVar("T")

BackendFactory = Callable[[str, Mapping[str, Any]], Backend]


@frozen
class Entry(Generic[T]):
    """One registered component and where it came from."""

    name: str
    item: T
    plugin: str
    package: str
    default: bool


class _Registry(Generic[T]):
    kind = "component"

    def __init__(self) -> None:
        self._entries: dict[str, Entry[T]] = {}
        self._plugin = "evolkit"
        self._package = "evolkit"

    def _set_source(self, plugin: str, package: str) -> None:
        self._plugin = plugin
        self._package = package

    def _add(self, name: str, item: T, default: bool) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a {self.kind} needs a non-blank name, got {name!r}")
        if name in self._entries:
            first = self._entries[name]
            raise DuplicateNameError(
                self.kind, name, f"{first.plugin} ({first.package})", self._plugin
            )
        self._entries[name] = Entry(name, item, self._plugin, self._package, default)

    def get(self, name: str) -> T:
        """The component registered as ``name``; :class:`UnknownNameError` if there is none."""
        try:
            return self._entries[name].item
        except KeyError:
            raise UnknownNameError(self.kind, name, sorted(self._entries)) from None

    def entry(self, name: str) -> Entry[T]:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return list(self._entries)

    def defaults(self) -> list[str]:
        return [e.name for e in self._entries.values() if e.default]

    def entries(self) -> list[Entry[T]]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class MutatorRegistry(_Registry[Mutator]):
    """Mutators by name. Filled by ``evolkit_register_mutators``."""

    kind = "operator"

    def add(self, mutator: Mutator, *, default: bool = True) -> None:
        """Register ``mutator`` under ``mutator.name``."""
        if not isinstance(mutator, Mutator):
            raise TypeError(f"{mutator!r} does not implement evolkit.Mutator")
        self._add(mutator.name, mutator, default)

    def kinds(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for e in self._entries.values():
            out.setdefault(e.item.kind, []).append(e.name)
        return out


class FilterRegistry(_Registry[Filter]):
    """Filters by name. Filled by ``evolkit_register_filters``."""

    kind = "filter"

    def add(self, filter: Filter, *, default: bool = True) -> None:
        """Register ``filter`` under ``filter.name``."""
        if not isinstance(filter, Filter):
            raise TypeError(f"{filter!r} does not implement evolkit.Filter")
        self._add(filter.name, filter, default)


class ScorerRegistry(_Registry[Scorer]):
    """Scorers by name. Filled by ``evolkit_register_scorers``."""

    kind = "scorer"

    def add(self, scorer: Scorer, *, default: bool = True) -> None:
        """Register ``scorer`` under ``scorer.name``."""
        if not isinstance(scorer, Scorer):
            raise TypeError(f"{scorer!r} does not implement evolkit.Scorer")
        self._add(scorer.name, scorer, default)


@frozen
class BackendSpec:
    """How to build a backend and which model strings it handles."""

    name: str
    factory: BackendFactory
    matches: Callable[[str], bool]
    description: str


class BackendRegistry(_Registry[BackendSpec]):
    """Backend factories by name. Filled by ``evolkit_register_backends``."""

    kind = "backend"

    def add(
        self,
        name: str,
        factory: BackendFactory,
        *,
        matches: Callable[[str], bool] | None = None,
        description: str = "",
    ) -> None:
        """Register ``factory`` as backend ``name``."""
        prefix = name + "/"
        spec = BackendSpec(
            name,
            factory,
            matches if matches is not None else (lambda model: model.startswith(prefix)),
            description,
        )
        self._add(name, spec, True)

    def resolve(self, model: str) -> BackendSpec:
        """The backend that handles ``model``: the first that matches, else ``litellm``."""
        for entry in self._entries.values():
            if entry.name != "litellm" and entry.item.matches(model):
                return entry.item
        return self.get("litellm")

    def create(self, model: str, params: Mapping[str, Any] | None = None) -> Backend:
        """Build the backend for ``model`` with litellm-style ``params``."""
        return self.resolve(model).factory(model, dict(params or {}))
