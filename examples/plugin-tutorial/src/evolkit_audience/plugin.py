"""The plugin evolkit loads through the entry point ``audience = "evolkit_audience.plugin"``."""

from evolkit import hookimpl

from evolkit_audience.filters import WordLimit
from evolkit_audience.operators import AUDIENCE


@hookimpl
def evolkit_register_mutators(registry) -> None:
    registry.add(AUDIENCE, default=False)


@hookimpl
def evolkit_register_filters(registry) -> None:
    registry.add(WordLimit(), default=False)
