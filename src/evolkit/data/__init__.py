"""Data in and out: seed layouts and field mapping, Python and Hugging Face inputs, exports."""

from __future__ import annotations

from evolkit.data.layouts import LAYOUTS, ROLES, Layout, LayoutError, RowMapper, parse_fields

__all__ = ["LAYOUTS", "ROLES", "Layout", "LayoutError", "RowMapper", "parse_fields"]
