"""The report of an optimisation (``evolkit report METHOD.toml``): the dev failure rate of
every candidate at every step as a plot, the chosen method's line through them, and the diff
of the method text at each step. Reads ``METHOD.toml.trajectory.json``."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evolkit.errors import ConfigError
from evolkit.report._figures import ACCENT, DROPPED, KEPT, figure, framed, to_data_uri
from evolkit.report._html import _CSS, _SCRIPT

__all__ = ["failure_plot", "render_method_report", "write_method_report"]


def failure_plot(steps: Sequence[Mapping[str, Any]]) -> Any:
    """Dev failure rate per step: every candidate as a dot, the chosen ones joined by a line."""
    fig = figure(6.4, 3.4)
    ax = fig.add_subplot()
    xs, ys, chosen_x, chosen_y = [], [], [], []
    for step in steps:
        for index, cand in enumerate(step["candidates"]):
            rate = float(cand["failure_rate"])
            if index == int(step["chosen"]):
                chosen_x.append(int(step["step"]))
                chosen_y.append(rate)
            else:
                xs.append(int(step["step"]))
                ys.append(rate)
    ax.scatter(xs, ys, color=DROPPED, alpha=0.55, label="candidate", zorder=2)
    ax.plot(chosen_x, chosen_y, "o-", color=KEPT, label="chosen", zorder=3)
    if chosen_y:
        ax.axhline(chosen_y[0], color=ACCENT, linestyle=":", label="initial method")
    ax.set_xticks([int(s["step"]) for s in steps])
    ax.set_ylim(-0.03, 1.03)
    framed(
        ax,
        "step (0: initial method)",
        "dev failure rate",
        "Evolution failure rate on the dev set (lower is better)",
        fontsize=8,
    )
    return fig


def _step_rows(steps: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for step in steps:
        cells = []
        for index, cand in enumerate(step["candidates"]):
            text = f"{float(cand['failure_rate']):.3f}"
            cells.append(f"<b>{text}</b>" if index == int(step["chosen"]) else text)
        rows.append(f"<tr><td>{int(step['step'])}</td><td>{' · '.join(cells)}</td></tr>")
    return (
        "<table><tr><th>step</th><th>dev failure rate per candidate (chosen in bold)</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_method_report(trajectory: Mapping[str, Any], title: str = "") -> str:
    """The HTML page of an optimisation's trajectory (the JSON that ``optimize`` writes)."""
    steps = trajectory["steps"]
    plot = to_data_uri(failure_plot(steps))
    fitted = trajectory.get("fitted", {})
    diffs = "".join(
        f"<details><summary>step {int(s['step'])}</summary><pre>"
        f"{html.escape(s.get('diff') or '(unchanged)')}</pre></details>"
        for s in steps[1:]
    )
    final = steps[-1]["candidates"][int(steps[-1]["chosen"])].get("prompt") or ""
    name = title or str(trajectory.get("method", "method"))
    sections = [
        f"<section><h1>evolkit optimisation report</h1><div class='muted'>{html.escape(name)}"
        f" · evolver {html.escape(str(fitted.get('evolver_model', '–')))} · optimizer "
        f"{html.escape(str(fitted.get('optimizer_model', '–')))}</div></section>",
        "<section><h2>Dev failure rate</h2><div class='grid'><figure>"
        f"<img src='{plot}' alt='failure rate per step'><figcaption>Every candidate of every "
        "step (red) and the one chosen (green).</figcaption></figure>"
        f"<div>{_step_rows(steps)}</div></div></section>",
        f"<section><h2>Method changes</h2>{diffs or '<p>No steps.</p>'}</section>",
        f"<section><h2>Final method</h2><pre>{html.escape(final)}</pre></section>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>evolkit optimisation · {html.escape(name)}</title><style>{_CSS}</style>"
        f"<script>{_SCRIPT}</script></head><body><main>{''.join(sections)}</main></body></html>"
    )


def write_method_report(
    method_file: str | os.PathLike[str], html_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of the optimisation that wrote ``method_file``; return its path."""
    from evolkit.auto import read_trajectory, trajectory_path
    from evolkit.io import atomic_writer

    source = trajectory_path(method_file)
    if not source.is_file():
        raise ConfigError(
            f"{source} is missing: a method file's report needs the trajectory that "
            "'evolkit optimize' writes beside it"
        )
    page = render_method_report(read_trajectory(source), title=Path(method_file).name)
    target = Path(html_path) if html_path else Path(method_file).with_suffix(".report.html")
    with atomic_writer(target) as fh:
        fh.write(page)
    return target
