"""Moved to :mod:`evolkit.evaluate.decontaminate`, beside the contamination check whose index
it uses; this name stays so that code written against it keeps working."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from evolkit.evaluate import decontaminate

    return getattr(decontaminate, name)
