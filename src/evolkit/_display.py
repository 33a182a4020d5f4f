"""HTML renderings of evolkit objects for Jupyter (``_repr_html_``) and the run report.

Plain HTML with inline styles (no scripts, no external files), so it renders the same in
Jupyter, VS Code, GitHub's notebook viewer and a saved report.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolkit._types import Instruction
    from evolkit.engine.result import RunResult
    from evolkit.engine.stats import RunStats

__all__ = [
    "Lineage",
    "chain_html",
    "diff_html",
    "instruction_html",
    "result_html",
    "stats_html",
    "word_diff",
]

_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.45;"
    "border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;margin:6px 0;max-width:920px;"
    "background:#fff;color:#1f2328"
)
_MUTED = "color:#59636e;font-size:12px"
_BADGE = (
    "display:inline-block;padding:0 7px;border-radius:10px;font-size:11px;font-weight:600;"
    "margin-right:6px;background:{bg};color:{fg}"
)
_INS = "background:#dafbe1;color:#116329;text-decoration:none;border-radius:3px;padding:0 1px"
_DEL = "background:#ffebe9;color:#82071e;border-radius:3px;padding:0 1px"
_BAR = "display:inline-block;height:10px;border-radius:2px;vertical-align:middle;background:{c}"


def _short(text: str, limit: int = 600) -> str:
    text = text if len(text) <= limit else text[:limit] + " …"
    return html.escape(text).replace("\n", "<br>")


def _badge(inst: Instruction) -> str:
    if inst.is_seed:
        return f"<span style='{_BADGE.format(bg='#ddf4ff', fg='#0969da')}'>seed</span>"
    label = f"round {inst.round}"
    op = f" · {html.escape(inst.operator)}" if inst.operator else ""
    return f"<span style='{_BADGE.format(bg='#fbefff', fg='#8250df')}'>{label}{op}</span>"


_TOKEN = re.compile(r"\w+|[^\w\s]|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``new`` against ``old`` as ``(op, text)`` pieces, ``op`` one of ``=``, ``+`` and ``-``.

    Words and punctuation are compared separately, so "lighthouse." → "lighthouse that ..."
    marks only the full stop as removed. Joining the ``=`` and ``+`` pieces gives ``new``.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(lambda t: t.isspace(), a, b, autojunk=False)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(("=", "".join(b[j1:j2])))
            continue
        removed, added = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag in ("delete", "replace") and removed.strip():
            out.append(("-", removed))
        if tag in ("insert", "replace") and added:
            out.append(("+" if added.strip() else "=", added))
    return out


def diff_html(old: str, new: str) -> str:
    """``new`` with the words added since ``old`` highlighted and removed words struck out."""
    style = {
        "+": ("<ins style='" + _INS + "'>", "</ins>"),
        "-": (f"<del style='{_DEL}'>", "</del>"),
    }
    out: list[str] = []
    for op, text in word_diff(old, new):
        opening, closing = style.get(op, ("", ""))
        out.append(f"{opening}{_short(text, 10_000)}{closing}")
    return "".join(out)


def instruction_html(inst: Instruction, parent: Instruction | None = None) -> str:
    """One instruction as a card: badge, id and parent, text (diffed against ``parent``)."""
    head = [f"<div style='{_MUTED}'>{_badge(inst)}<code>{html.escape(inst.id)}</code>"]
    if inst.parent_id:
        head.append(f" ← <code>{html.escape(inst.parent_id)}</code>")
    head.append("</div>")
    text = diff_html(parent.text, inst.text) if parent is not None else _short(inst.text)
    parts = [f'<div style="{_BOX}">', *head, f"<div style='margin-top:6px'>{text}</div>"]
    if inst.input:
        parts.append(
            "<pre style='margin:6px 0;padding:6px;background:#f6f8fa;border-radius:6px;"
            f"white-space:pre-wrap'>{_short(inst.input)}</pre>"
        )
    if inst.response is not None:
        parts.append(
            "<details style='margin-top:6px'><summary style='cursor:pointer;"
            f"{_MUTED}'>response</summary><div style='margin-top:4px'>"
            f"{_short(inst.response, 1200)}</div></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def chain_html(chain: Sequence[Instruction]) -> str:
    """A seed-to-leaf chain: each step shows the operator and the words it changed."""
    if not chain:
        return f"<div style='{_BOX}'>no lineage</div>"
    steps = []
    for k, inst in enumerate(chain):
        parent = chain[k - 1] if k else None
        text = diff_html(parent.text, inst.text) if parent is not None else _short(inst.text)
        border = "#0969da" if inst.is_seed else "#8250df"
        steps.append(
            f"<li style='list-style:none;margin:0 0 8px 0;padding-left:10px;"
            f"border-left:3px solid {border}'><div style='{_MUTED}'>{_badge(inst)}"
            f"<code>{html.escape(inst.id)}</code></div><div>{text}</div></li>"
        )
    last = chain[-1]
    head = (
        f"<div style='{_MUTED};margin-bottom:6px'>lineage of <code>{html.escape(last.id)}</code>"
        f" · {len(chain) - 1} evolution{'s' if len(chain) != 2 else ''}</div>"
    )
    return f'<div style="{_BOX}">{head}<ol style="margin:0;padding:0">{"".join(steps)}</ol></div>'


class Lineage(list["Instruction"]):
    """A chain of instructions from a seed to its descendant that renders as a diff in Jupyter."""

    def __init__(self, chain: Iterable[Instruction] = ()) -> None:
        super().__init__(chain)

    def _repr_html_(self) -> str:
        return chain_html(self)


def _bars(rows: Sequence[tuple[str, int, int]]) -> str:
    """Rows of ``(label, kept, dropped)`` as a table with inline bars."""
    peak = max((k + d for _, k, d in rows), default=0) or 1
    body = []
    for label, kept, dropped in rows:
        total = kept + dropped
        share = f"{100 * kept / total:.0f}%" if total else "–"
        bar = (
            f"<span style='{_BAR.format(c='#2da44e')};width:{120 * kept / peak:.0f}px'></span>"
            f"<span style='{_BAR.format(c='#cf222e')};width:{120 * dropped / peak:.0f}px'></span>"
        )
        body.append(
            f"<tr><td style='padding:1px 8px 1px 0'>{html.escape(label)}</td>"
            f"<td style='text-align:right;padding:1px 6px'>{kept}</td>"
            f"<td style='text-align:right;padding:1px 6px'>{dropped}</td>"
            f"<td style='text-align:right;padding:1px 6px'>{share}</td>"
            f"<td style='padding:1px 0 1px 6px'>{bar}</td></tr>"
        )
    return "".join(body)


def _section(title: str, header: Sequence[str], body: str) -> str:
    cells = "".join(
        f"<th style='text-align:{'left' if i == 0 else 'right'};padding:1px 6px;{_MUTED}'>"
        f"{html.escape(h)}</th>"
        for i, h in enumerate(header)
    )
    return (
        "<table style='border-collapse:collapse;margin:6px 18px 6px 0;display:inline-table;"
        "font-size:13px;font-family:inherit;color:inherit;"
        f"vertical-align:top'><caption style='font-weight:600;text-align:left'>"
        f"{html.escape(title)}</caption><tr>{cells}</tr>{body}</table>"
    )


def _counts(items: Mapping[str, int]) -> str:
    ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
    return "".join(
        f"<tr><td style='padding:1px 8px 1px 0'>{html.escape(k)}</td>"
        f"<td style='text-align:right;padding:1px 6px'>{v}</td></tr>"
        for k, v in ranked
    )


def stats_html(stats: RunStats, drops_per_round: Mapping[int, int] | None = None) -> str:
    """Tables of a run's counts: rows per round, operators with bars, drop reasons, usage."""
    per_round = drops_per_round or {}
    rounds = _bars(
        [
            ("seeds" if r == 0 else f"round {r}", n, per_round.get(r, 0))
            for r, n in sorted(stats.rows_per_round.items())
        ]
    )
    ops = _bars(
        [
            (op, stats.kept_per_operator.get(op, 0), stats.dropped_per_operator.get(op, 0))
            for op in sorted(stats.attempted_per_operator)
        ]
    )
    tables = [
        _section("rows per round", ["", "kept", "dropped", "kept %", ""], rounds),
        _section("operators", ["", "kept", "dropped", "kept %", ""], ops),
    ]
    if stats.drop_reasons:
        tables.append(_section("drop reasons", ["reason", "count"], _counts(stats.drop_reasons)))
    return "".join(tables)


def result_html(result: RunResult) -> str:
    """A run's headline numbers and count tables."""
    s = result.stats
    usage = s.usage
    drops: dict[int, int] = {}
    for d in result.iter_drops():
        drops[d.round] = drops.get(d.round, 0) + 1
    attempted = s.kept + s.dropped
    kept_share = f"{100 * s.kept / attempted:.0f}%" if attempted else "–"
    figures = [
        ("rows", str(s.rows)),
        ("seeds", str(s.seeds)),
        ("rounds", str(s.rounds)),
        ("evolutions kept", kept_share),
        ("tokens", f"{usage.total_tokens:,}"),
        ("cost", f"${usage.cost:.4f}"),
        ("time", f"{s.elapsed_s:.1f}s"),
    ]
    cards = "".join(
        "<div style='display:inline-block;margin:0 16px 4px 0'>"
        f"<div style='font-size:18px;font-weight:600'>{html.escape(v)}</div>"
        f"<div style='{_MUTED}'>{html.escape(k)}</div></div>"
        for k, v in figures
    )
    where = (
        f"<div style='{_MUTED}'><code>{html.escape(str(result.output))}</code></div>"
        if result.output
        else ""
    )
    return (
        f'<div style="{_BOX}"><div style="font-weight:600">evolkit run</div>{where}'
        f"<div style='margin:6px 0'>{cards}</div>"
        f"{stats_html(s, drops)}</div>"
    )
