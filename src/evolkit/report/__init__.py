"""Run reports and data-quality measures (``pip install 'evolkit[report]'``).

- :func:`write_report`: a self-contained HTML report of a finished run (``evolkit report``).
- :func:`quality_summary`: lexical diversity, length and complexity per round, and embedding
  diversity with the ``quality`` extra.
- :func:`load_run`: a run's rows, drops, counts and settings, read back from disk.

matplotlib is imported only when a report is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from evolkit._display import Lineage
from evolkit.report._data import RunData, load_run, sample_chains
from evolkit.report._metrics import (
    CONSTRAINT_MARKERS,
    clause_count,
    complexity,
    constraint_count,
    distinct_n,
)
from evolkit.report._quality import QualitySummary, RoundQuality, quality_summary

if TYPE_CHECKING:
    from evolkit.engine.result import RunResult

__all__ = [
    "CONSTRAINT_MARKERS",
    "Lineage",
    "QualitySummary",
    "RoundQuality",
    "RunData",
    "clause_count",
    "complexity",
    "constraint_count",
    "distinct_n",
    "load_run",
    "quality_summary",
    "render_report",
    "report_html_path",
    "sample_chains",
    "write_report",
]


def report_html_path(output: str | os.PathLike[str]) -> Path:
    """Where :func:`write_report` writes by default: ``OUT.report.html`` beside ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".report.html")


def render_report(
    run: RunData | RunResult,
    *,
    embeddings: bool | None = False,
    chains: int = 5,
    title: str | None = None,
) -> str:
    """The HTML report of ``run`` (a :class:`RunData` or a :class:`~evolkit.RunResult`)."""
    from evolkit.report._figures import draw_figures
    from evolkit.report._html import render_html

    data = run if isinstance(run, RunData) else RunData.from_result(run)
    quality = quality_summary(data.rows, embeddings=embeddings)
    figures = draw_figures(data, quality)
    return render_html(data, figures, quality, title=title, chains=chains)


def write_report(
    output_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str] | None = None,
    *,
    embeddings: bool | None = False,
    chains: int = 5,
) -> Path:
    """Write the HTML report of the run that wrote ``output_path``; return the report's path.

    Reads ``OUT``, ``OUT.run.json`` and the drops in ``OUT.evolkit/``. The page embeds its
    figures, so it can be mailed or attached as one file. ``html_path`` defaults to
    ``OUT.report.html``. ``embeddings=True`` adds embedding diversity (``quality`` extra);
    ``None`` adds it when the extra is installed.
    """
    from evolkit.io import atomic_writer

    target = Path(html_path) if html_path is not None else report_html_path(output_path)
    page = render_report(load_run(output_path), embeddings=embeddings, chains=chains)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(target) as fh:
        fh.write(page)
    return target
