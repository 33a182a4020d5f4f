"""The ``growth`` score: the words a row added over its parent, from the lineage, no model.

A seed scores 0. The eliminator's own record (``metadata["growth"]["added_words"]``, written
by the ``growth`` filter on kept depth rows) is the same count; it is used when the parent is
not in the file (a subset written by ``evolkit select``). ``evolkit select --by growth`` ranks
by it; the method's prompts ask each depth step for 10 to 20 words.
"""

from __future__ import annotations

from typing import Any

from evolkit._protocols import Backend
from evolkit._types import ScoreFailure, ScoreItem
from evolkit.filters.stopwords import words

__all__ = ["GrowthScorer"]


class GrowthScorer:
    """Words the row added over its parent (negative when it shrank); a seed scores 0."""

    name = "growth"
    needs_model = False

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        row = item.row
        if row.parent_id is None:
            return 0.0
        if item.ancestors and item.ancestors[-1].id == row.parent_id:
            return float(len(words(row.text)) - len(words(item.ancestors[-1].text)))
        record: Any = row.metadata.get("growth")
        if isinstance(record, dict) and isinstance(record.get("added_words"), int):
            return float(record["added_words"])
        return ScoreFailure("no_parent", f"parent {row.parent_id} is not in the file")
