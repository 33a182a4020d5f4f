"""pytest fixtures for evolkit plugin authors, registered through the ``pytest11`` entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from evolkit._plugins import Plugins, default_plugins
from evolkit.backends.fake import FakeBackend


@pytest.fixture
def fake_backend() -> FakeBackend:
    """A :class:`FakeBackend` with the default computed replies."""
    return FakeBackend.default()


@pytest.fixture
def evolkit_plugins() -> Plugins:
    """The process-wide plugins that ``evolkit.evolve`` uses by default."""
    return default_plugins()


@pytest.fixture
def evolkit_plugin() -> Iterator[Callable[..., str]]:
    """Register plugin objects for one test: ``evolkit_plugin(obj, name=None)``.

    Everything registered is unregistered when the test ends, pass or fail. A plugin object
    that is already registered (its package is installed) is left as it is.
    """
    plugins = default_plugins()
    registered: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        # A plugin that is already loaded (its package is installed) is used as it is, and
        # left registered afterwards.
        if plugins.pm.is_registered(plugin):
            return plugins.pm.get_name(plugin) or ""
        registered_name = plugins.register(plugin, name=name, package="test")
        registered.append(registered_name)
        return registered_name

    yield register
    for name in reversed(registered):
        plugins.unregister(name=name)
