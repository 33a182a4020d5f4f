"""A value's plain fields as a dict: the part of a ``to_json`` or ``to_record`` that copies an
attribute under its own name, written once."""

from __future__ import annotations

from typing import Any

__all__ = ["named_fields"]


def named_fields(value: object, *names: str) -> dict[str, Any]:
    """``{name: value.name}`` for each of ``names``, in that order (properties included)."""
    return {name: getattr(value, name) for name in names}
