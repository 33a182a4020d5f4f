"""evolkit's version, written into every run report and data set card."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
