"""Settings keyed by operator: an operator's own name, else the longest prefix ending in ``.``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["for_operator"]

T = TypeVar("T")


def for_operator(settings: Mapping[str, T], operator: str | None) -> T | None:
    """The setting for ``operator``: its own entry, else its longest matching prefix, else None."""
    if operator is None:
        return None
    if operator in settings:
        return settings[operator]
    prefixes = [k for k in settings if k.endswith(".") and operator.startswith(k)]
    return settings[max(prefixes, key=len)] if prefixes else None
