"""What the data is worth: per-row scores, a deita-style selection, and the means per round.

- :func:`score`: difficulty and quality judged by a model (strictly parsed: an unreadable reply
  is a counted failure), complexity judged along a row's lineage, embedding diversity; every
  model call journaled, cached, concurrent and costed like an evolution run's.
- :func:`select`: the best rows by a combined score, none too similar to another.
- :func:`score_table`: mean scores per round and per operator ("did each round get harder?").

Scorers are plugins: implement :class:`evolkit.Scorer` and register it through the
``evolkit_register_scorers`` hook.
"""

from __future__ import annotations

from evolkit._protocols import PreparedScorer, Scorer
from evolkit._types import ScoreFailure, ScoreItem
from evolkit.score._diversity import DiversityScorer
from evolkit.score._judge import (
    COMPLEXITY_TEMPLATE,
    DIFFICULTY_TEMPLATE,
    QUALITY_TEMPLATE,
    ChainComplexityScorer,
    DifficultyScorer,
    QualityScorer,
    parse_chain_scores,
    parse_score,
)
from evolkit.score._run import ascore, score, score_report_path, select_scorers
from evolkit.score._select import SelectionReport, combined_score, select
from evolkit.score._summary import ScoreReport, ScoreTable, row_scores, score_table

__all__ = [
    "COMPLEXITY_TEMPLATE",
    "DIFFICULTY_TEMPLATE",
    "QUALITY_TEMPLATE",
    "ChainComplexityScorer",
    "DifficultyScorer",
    "DiversityScorer",
    "PreparedScorer",
    "QualityScorer",
    "ScoreFailure",
    "ScoreItem",
    "ScoreReport",
    "ScoreTable",
    "Scorer",
    "SelectionReport",
    "ascore",
    "combined_score",
    "parse_chain_scores",
    "parse_score",
    "row_scores",
    "score",
    "score_report_path",
    "score_table",
    "select",
    "select_scorers",
]
