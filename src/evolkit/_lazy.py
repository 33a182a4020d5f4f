"""A package's public names, imported only when first used (a module ``__getattr__``, PEP 562).

``evolkit.scale`` and ``evolkit.view`` name classes whose modules pull in heavy dependencies
(litellm, Ray, aiohttp's server); the command line lists their commands on every start, so they
must cost nothing until one is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each name in ``where`` from the module it maps to."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
