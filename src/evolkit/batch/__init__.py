"""Batch mode: a run's calls sent as provider batch jobs, at batch prices, through the journal.

``evolve(..., batch=True)`` or ``evolkit evolve ... --batch``; :class:`BatchSettings` tunes the
limits and polling. See the "Paying less" guide.
"""

from __future__ import annotations

from evolkit.batch._types import (
    BatchBackend,
    BatchClient,
    BatchJob,
    BatchResult,
    BatchSettings,
)

__all__ = ["BatchBackend", "BatchClient", "BatchJob", "BatchResult", "BatchSettings"]
