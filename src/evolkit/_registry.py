"""Typed registries that plugins fill through the hooks in :mod:`evolkit.hookspecs`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from types import CodeType, FrameType
from typing import Any, Generic, Protocol, TypeVar

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
    "Source",
    "by_name",
]

T = TypeVar("T")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


NamedT = TypeVar("NamedT", bound=_Named)


def by_name(*items: NamedT) -> dict[str, NamedT]:
    """``items`` keyed by their names, in the order given: a fixed table of named values
    (the embedded models, the seed layouts, the prompt styles)."""
    return {item.name: item for item in items}


BackendFactory = Callable[[str, Mapping[str, Any]], Backend]


@frozen
class Entry(Generic[T]):
    """One registered component and where it came from."""

    name: str
    item: T
    plugin: str
    package: str
    default: bool


@frozen
class Source:
    """The plugin a hook implementation belongs to, and its place in registration order."""

    plugin: str
    package: str
    order: int


_BUILTIN = Source("evolkit", "evolkit", -1)


def _first_argument(frame: FrameType) -> object:
    code = frame.f_code
    return frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None


class _Registry(Generic[T]):
    kind = "component"

    def __init__(self) -> None:
        self._entries: dict[str, Entry[T]] = {}
        self._rank: dict[str, tuple[int, int]] = {}
        self._sources: Mapping[CodeType, list[tuple[object, Source]]] = {}

    def _attribute(self, sources: Mapping[CodeType, list[tuple[object, Source]]]) -> None:
        """Name the plugin of each hook implementation for :meth:`_add`: by its code object,
        and for a method by the object it is bound to (``None`` for a function)."""
        self._sources = sources

    def _source(self) -> Source:
        """The plugin whose hook implementation is adding right now (found on the call stack,
        so it holds whatever order pluggy calls the implementations in); else evolkit."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            for bound, source in self._sources.get(frame.f_code, ()):
                if bound is None or _first_argument(frame) is bound:
                    return source
            frame = frame.f_back
        return _BUILTIN

    def _add(self, name: str, item: T, default: bool) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a {self.kind} needs a non-blank name, got {name!r}")
        source = self._source()
        if name in self._entries:
            held = self._entries[name]
            held_order = self._rank[name][0]
            first, second = (
                (f"{held.plugin} ({held.package})", source.plugin)
                if held_order <= source.order
                else (f"{source.plugin} ({source.package})", held.plugin)
            )
            raise DuplicateNameError(self.kind, name, first, second)
        self._entries[name] = Entry(name, item, source.plugin, source.package, default)
        self._rank[name] = (source.order, len(self._rank))

    def _in_registration_order(self) -> None:
        """Order the entries by the registration order of their plugins (pluggy calls the
        implementations last-registered first), keeping each plugin's own order."""
        names = sorted(self._entries, key=self._rank.__getitem__)
        self._entries = {name: self._entries[name] for name in names}

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

    def add(self, filter: Filter, *, default: bool | None = None) -> None:
        """Register ``filter`` under ``filter.name``.

        ``default=True`` makes it run in every run where the user does not pick filters. A
        third-party filter runs only when named unless it opts in so; evolkit's own filters
        are defaults unless they say ``default=False``.
        """
        if not isinstance(filter, Filter):
            raise TypeError(f"{filter!r} does not implement evolkit.Filter")
        if default is None:
            default = self._source().package == _BUILTIN.package
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
        """Build the backend for ``model`` with litellm-style ``params``; every key among
        them is masked from then on in every text shown or stored (:mod:`evolkit.redact`)."""
        from evolkit.redact import remember_secrets

        remember_secrets(params)
        return self.resolve(model).factory(model, dict(params or {}))
