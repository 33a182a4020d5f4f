"""Moved to :mod:`evolkit.refilter`, above the engine with the ``evolkit filter`` command; this
name stays so that code written against it keeps working."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    import evolkit.refilter

    return getattr(evolkit.refilter, name)
