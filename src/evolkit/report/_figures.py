"""The report's figures, drawn with matplotlib's Agg canvas and returned as PNG data URIs.

No pyplot: each figure is a standalone :class:`matplotlib.figure.Figure`, so drawing a report
neither needs a display nor touches a notebook's current figure.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evolkit.errors import missing_extra
from evolkit.report._data import RunData
from evolkit.report._metrics import complexity, word_count
from evolkit.report._quality import QualitySummary
from evolkit.score._summary import ScoreTable, score_table

__all__ = ["Figures", "draw_figures", "figure", "to_data_uri"]

KEPT = "#2da44e"
DROPPED = "#cf222e"
PROMPT = "#0969da"
COMPLETION = "#8250df"
ACCENT = "#bf8700"

Figures = dict[str, str]


def figure(width: float = 6.4, height: float = 3.4) -> Any:
    """A new Agg-backed figure; :class:`MissingExtraError` without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise missing_extra("matplotlib", "report", exc) from exc
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_data_uri(fig: Any) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def framed(ax: Any, xlabel: str, ylabel: str, title: str, fontsize: float | None = None) -> None:
    """The axis labels and title, the legend outside on the right, and the house style."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)


def _round_labels(rounds: Sequence[int]) -> list[str]:
    return ["seeds" if r == 0 else str(r) for r in rounds]


def rows_per_round(run: RunData) -> Any:
    rounds = run.rounds
    kept = [run.stats.rows_per_round.get(r, 0) for r in rounds]
    drops = run.drops_per_round()
    dropped = [drops.get(r, 0) for r in rounds]
    fig = figure()
    ax = fig.add_subplot()
    x = list(range(len(rounds)))
    ax.bar(x, kept, color=KEPT, label="kept")
    ax.bar(x, dropped, bottom=kept, color=DROPPED, label="dropped")
    ax.set_xticks(x, _round_labels(rounds))
    framed(ax, "round", "instructions", "Rows kept and evolutions dropped per round")
    return fig


def per_operator(run: RunData) -> Any:
    stats = run.stats
    ops = sorted(stats.attempted_per_operator, key=lambda o: stats.attempted_per_operator[o])
    fig = figure(6.4, max(2.2, 0.45 * len(ops) + 1.2))
    ax = fig.add_subplot()
    kept = [stats.kept_per_operator.get(o, 0) for o in ops]
    dropped = [stats.dropped_per_operator.get(o, 0) for o in ops]
    ax.barh(ops, kept, color=KEPT, label="kept")
    ax.barh(ops, dropped, left=kept, color=DROPPED, label="dropped")
    for y, (k, d) in enumerate(zip(kept, dropped, strict=True)):
        if k + d:
            ax.text(k + d, y, f" {100 * k / (k + d):.0f}% kept", va="center", fontsize=8)
    ax.set_xlabel("evolutions")
    ax.set_title("Kept and dropped per operator")
    ax.legend(frameon=False, loc="lower right")
    ax.margins(x=0.2)
    _style(ax)
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    return fig


def drop_reasons(run: RunData) -> Any:
    reasons = sorted(run.stats.drop_reasons.items(), key=lambda kv: (kv[1], kv[0]))
    fig = figure(6.4, max(2.2, 0.4 * len(reasons) + 1.2))
    ax = fig.add_subplot()
    if reasons:
        ax.barh([r for r, _ in reasons], [n for _, n in reasons], color=DROPPED)
        ax.set_xlabel("dropped evolutions")
    else:
        ax.text(0.5, 0.5, "nothing was dropped", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_title("Why evolutions were dropped")
    _style(ax)
    return fig


def _distribution(run: RunData, values: Mapping[int, list[float]], title: str, label: str) -> Any:
    rounds = [r for r in run.rounds if values.get(r)]
    fig = figure()
    ax = fig.add_subplot()
    data = [values[r] for r in rounds]
    if data:
        parts = ax.violinplot(data, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(PROMPT)
            body.set_alpha(0.25)
        ax.boxplot(data, widths=0.15, showfliers=False)
        means = [sum(v) / len(v) for v in data]
        ax.plot(range(1, len(data) + 1), means, "o-", color=ACCENT, label="mean")
        ax.set_xticks(range(1, len(data) + 1), _round_labels(rounds))
        ax.legend(frameon=False, loc="upper left")
    ax.set_xlabel("round")
    ax.set_ylabel(label)
    ax.set_title(title)
    _style(ax)
    return fig


def length_distribution(run: RunData) -> Any:
    values: dict[int, list[float]] = {}
    for inst in run.rows:
        values.setdefault(inst.round, []).append(float(word_count(inst.text)))
    return _distribution(run, values, "Instruction length per round", "words")


def complexity_distribution(run: RunData) -> Any:
    values: dict[int, list[float]] = {}
    for inst in run.rows:
        values.setdefault(inst.round, []).append(complexity(inst.text, inst.input))
    return _distribution(run, values, "Complexity proxy per round", "complexity")


def token_use(run: RunData) -> Any:
    usage = run.stats.usage_per_round
    rounds = sorted(usage)
    fig = figure()
    ax = fig.add_subplot()
    x = list(range(len(rounds)))
    prompt = [usage[r].prompt_tokens for r in rounds]
    completion = [usage[r].completion_tokens for r in rounds]
    ax.bar(x, prompt, color=PROMPT, label="prompt")
    ax.bar(x, completion, bottom=prompt, color=COMPLETION, label="completion")
    for i, r in enumerate(rounds):
        if usage[r].cost:
            ax.text(
                i,
                prompt[i] + completion[i],
                f"${usage[r].cost:.4f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(x, _round_labels(rounds))
    framed(ax, "round", "tokens", "Token use per round")
    return fig


def diversity(quality: QualitySummary) -> Any:
    rounds = [r.round for r in quality.rounds]
    fig = figure()
    ax = fig.add_subplot()
    for key, name, colour in (
        ("distinct_1", "distinct-1", PROMPT),
        ("distinct_2", "distinct-2", COMPLETION),
        ("distinct_3", "distinct-3", KEPT),
    ):
        ax.plot(
            range(len(rounds)),
            [getattr(r, key) for r in quality.rounds],
            "o-",
            color=colour,
            label=name,
        )
    if quality.embedding_model:
        ax.plot(
            range(len(rounds)),
            [r.embedding_diversity or 0.0 for r in quality.rounds],
            "s--",
            color=ACCENT,
            label="embedding diversity",
        )
    ax.set_xticks(range(len(rounds)), _round_labels(rounds))
    ax.set_ylim(0, 1.05)
    framed(ax, "round", "ratio", "Diversity per round (higher: more varied)", fontsize=8)
    return fig


_SCORE_COLOURS = (ACCENT, PROMPT, COMPLETION, KEPT, DROPPED)


def scores_figure(table: ScoreTable) -> Any:
    """Mean of each score per round (left) and per operator (right), with the counts."""
    fig = figure(9.6, max(3.4, 0.35 * len(table.per_operator) + 1.4))
    by_round, by_operator = fig.subplots(1, 2, width_ratios=(1, 1.2))
    rounds = sorted(table.per_round)
    for name, colour in zip(table.names, _SCORE_COLOURS * 4, strict=False):
        xs = [i for i, r in enumerate(rounds) if name in table.per_round[r]]
        ys = [table.per_round[rounds[i]][name][0] for i in xs]
        by_round.plot(xs, ys, "o-", color=colour, label=name)
    by_round.set_xticks(range(len(rounds)), _round_labels(rounds))
    by_round.set_xlabel("round")
    by_round.set_ylabel("mean score")
    by_round.set_title("Mean score per round")
    by_round.legend(frameon=False, fontsize=8)
    _style(by_round)
    operators = sorted(table.per_operator)
    height = 0.8 / max(1, len(table.names))
    for k, (name, colour) in enumerate(zip(table.names, _SCORE_COLOURS * 4, strict=False)):
        present = [(i, o) for i, o in enumerate(operators) if name in table.per_operator[o]]
        by_operator.barh(
            [i + k * height for i, _ in present],
            [table.per_operator[o][name][0] for _, o in present],
            height=height,
            color=colour,
            label=name,
        )
    by_operator.set_yticks(
        [i + 0.4 - height / 2 for i in range(len(operators))], operators, fontsize=8
    )
    by_operator.set_xlabel("mean score")
    by_operator.set_title("Mean score per operator")
    _style(by_operator)
    by_operator.grid(axis="x", alpha=0.3)
    by_operator.grid(axis="y", visible=False)
    return fig


def draw_figures(run: RunData, quality: QualitySummary) -> Figures:
    """Every figure of the report, by name, as PNG data URIs."""
    import warnings

    makers: dict[str, Callable[[], Any]] = {
        "rows": lambda: rows_per_round(run),
        "operators": lambda: per_operator(run),
        "drops": lambda: drop_reasons(run),
        "length": lambda: length_distribution(run),
        "complexity": lambda: complexity_distribution(run),
        "tokens": lambda: token_use(run),
        "diversity": lambda: diversity(quality),
    }
    table = score_table(run.rows)
    if table:
        makers["scores"] = lambda: scores_figure(table)
    out: Figures = {}
    with warnings.catch_warnings():
        # an empty round or a one-value violin makes numpy/matplotlib warn; the figure is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, make in makers.items():
            out[name] = to_data_uri(make())
    return out
