"""The built-in scorers, registered through ``evolkit_register_scorers`` like a plugin's.

Used when no scores are named: ``difficulty`` and ``quality`` (the model judges each row) and
``diversity`` (nearest-neighbour distance of the embeddings, when the ``quality`` extra is
installed). ``complexity`` (a row judged with its ancestors in one prompt) and ``growth`` (words
added over the parent, no model) run when named.
"""

from __future__ import annotations

from typing import Any

from evolkit._registry import ScorerRegistry
from evolkit.hookspecs import hookimpl
from evolkit.score._diversity import DiversityScorer
from evolkit.score._growth import GrowthScorer
from evolkit.score._judge import ChainComplexityScorer, DifficultyScorer, QualityScorer

__all__ = ["evolkit_register_scorers"]


@hookimpl
def evolkit_register_scorers(registry: ScorerRegistry) -> None:
    """Register difficulty, quality and diversity (defaults); complexity and growth by name."""
    from evolkit.score._embed import embedding_available

    # Typed loosely: mypy reads frozen attrs fields as read-only where the Scorer protocol
    # declares properties; at run time they satisfy it.
    judges: tuple[Any, ...] = (DifficultyScorer(), QualityScorer())
    for scorer in judges:
        registry.add(scorer, default=True)
    registry.add(DiversityScorer(), default=embedding_available())
    complexity: Any = ChainComplexityScorer()
    registry.add(complexity, default=False)
    growth: Any = GrowthScorer()
    registry.add(growth, default=False)
