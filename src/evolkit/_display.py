"""HTML renderings of evolkit objects for Jupyter (``_repr_html_``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolkit._types import Instruction
    from evolkit.engine.result import RunResult

__all__ = ["instruction_html", "result_html"]

_STYLE = (
    "font-family:system-ui,sans-serif;font-size:13px;border:1px solid #d0d7de;"
    "border-radius:6px;padding:8px 12px;margin:4px 0;max-width:900px"
)


def _short(text: str, limit: int = 600) -> str:
    text = text if len(text) <= limit else text[:limit] + " …"
    return html.escape(text).replace("\n", "<br>")


def instruction_html(inst: Instruction) -> str:
    badge = "seed" if inst.is_seed else f"round {inst.round} · {html.escape(inst.operator or '')}"
    parts = [
        f'<div style="{_STYLE}">',
        f'<div style="color:#57606a">{badge} · <code>{html.escape(inst.id)}</code>',
    ]
    if inst.parent_id:
        parts.append(f" ← <code>{html.escape(inst.parent_id)}</code>")
    parts.append("</div>")
    parts.append(f"<div style='margin-top:4px'><b>{_short(inst.text)}</b></div>")
    if inst.input:
        parts.append(f"<pre style='margin:4px 0'>{_short(inst.input)}</pre>")
    if inst.response is not None:
        parts.append(f"<div style='color:#24292f;margin-top:4px'>{_short(inst.response, 400)}</div>")
    parts.append("</div>")
    return "".join(parts)


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        f"<table style='border-collapse:collapse;margin:4px 12px 4px 0;display:inline-table;"
        f"vertical-align:top'><caption style='font-weight:bold;text-align:left'>"
        f"{html.escape(title)}</caption>{body}</table>"
    )


def result_html(result: RunResult) -> str:
    s = result.stats
    tables = [
        _table("rows per round", [(str(k), str(v)) for k, v in sorted(s.rows_per_round.items())]),
        _table(
            "operators (kept / tried)",
            [
                (op, f"{s.kept_per_operator.get(op, 0)} / {n}")
                for op, n in sorted(s.attempted_per_operator.items())
            ],
        ),
        _table(
            "drop reasons",
            [(k, str(v)) for k, v in sorted(s.drop_reasons.items(), key=lambda kv: -kv[1])],
        ),
    ]
    usage = s.usage
    head = (
        f"<div style='color:#57606a'>{s.rows} rows from {s.seeds} seeds over {s.rounds} rounds · "
        f"{usage.total_tokens} tokens · ${usage.cost:.4f} · {s.elapsed_s:.1f}s</div>"
    )
    where = f"<div><code>{html.escape(str(result.output))}</code></div>" if result.output else ""
    return f'<div style="{_STYLE}"><b>evolkit run</b>{where}{head}{"".join(tables)}</div>'
