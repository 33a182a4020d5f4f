"""The run report as one self-contained HTML page: figures inline as PNG data URIs."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from evolkit._display import chain_html, stats_html
from evolkit._types import Usage
from evolkit.engine.stats import RunStats, rule_yield, yield_warnings
from evolkit.report._data import RunData, sample_chains
from evolkit.report._figures import Figures
from evolkit.report._quality import QualitySummary

__all__ = ["render_html"]

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0;
  background: #f6f8fa; color: #1f2328; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 10px; padding: 18px 22px;
  margin: 18px 0; }
.muted { color: #59636e; font-size: 13px; }
.warn { color: #b45309; font-size: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 14px; }
.card { flex: 1 1 90px; background: #fff; border: 1px solid #d0d7de; border-radius: 10px;
  padding: 10px 14px; min-width: 90px; }
.card b { display: block; font-size: 22px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px;
  align-items: start; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border-radius: 6px; }
figcaption { color: #59636e; font-size: 12px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.delta { color: #59636e; font-size: 11px; }
table.quality th, table.quality td { white-space: nowrap; padding: 3px 6px; }
.wide { grid-column: 1 / -1; overflow-x: auto; }
pre { background: #f6f8fa; padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
details summary { cursor: pointer; }
"""

# Marks the page once every figure has decoded, so a headless browser (and a test) can check
# that the report renders: <body data-figures="ok" data-figure-count="N">.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-figure-count', String(ok));
  document.body.setAttribute('data-figures', ok === imgs.length && ok > 0 ? 'ok' : 'broken');
});
"""


def _fig(figures: Figures, name: str, caption: str) -> str:
    uri = figures.get(name)
    if not uri:
        return ""
    return (
        f"<figure><img src='{uri}' alt='{html.escape(caption)}' data-figure='{name}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _usage_rows(usage: Mapping[str, Usage]) -> list[list[object]]:
    return [
        [k, f"{u.prompt_tokens:,}", f"{u.completion_tokens:,}", f"${u.cost:.4f}"]
        for k, u in sorted(usage.items(), key=lambda kv: -kv[1].total_tokens)
    ]


def _cards(run: RunData) -> str:
    s = run.stats
    attempted = s.kept + s.dropped
    usage = s.usage
    items = [
        ("rows", f"{s.rows:,}"),
        ("seeds", f"{s.seeds:,}"),
        ("rounds", str(s.rounds)),
        ("evolutions kept", f"{100 * s.kept / attempted:.0f}%" if attempted else "–"),
        ("dropped", f"{s.dropped:,}"),
        ("tokens", f"{usage.total_tokens:,}"),
        ("cost", f"${usage.cost:.4f}"),
        ("time", f"{s.elapsed_s:.1f}s"),
    ]
    return (
        "<div class='cards'>"
        + "".join(
            f"<div class='card'><b>{html.escape(v)}</b><span class='muted'>{html.escape(k)}</span>"
            "</div>"
            for k, v in items
        )
        + "</div>"
    )


def _drop_table(run: RunData) -> str:
    counts = Counter((d.stage, d.filter, d.reason) for d in run.drops)
    if not counts:
        return "<p class='muted'>No evolution was dropped.</p>"
    rows = [[st, f or "–", r, n] for (st, f, r), n in counts.most_common()]
    examples = []
    seen: set[str] = set()
    for d in run.drops:
        if d.reason in seen or not d.text:
            continue
        seen.add(d.reason)
        examples.append(
            f"<li><b>{html.escape(d.reason)}</b> <span class='muted'>({html.escape(d.operator)}, "
            f"round {d.round})</span>: {html.escape(d.text[:300])}</li>"
        )
        if len(examples) == 6:
            break
    sample = (
        f"<details><summary>an example of each reason</summary><ul>{''.join(examples)}</ul>"
        "</details>"
        if examples
        else ""
    )
    return _table(["stage", "filter", "reason", "count"], rows) + sample


def _yield_section(stats: RunStats) -> str:
    """Share of evolutions kept per operator and dropped per rule, with the warnings."""
    ops = [
        [
            op,
            tried,
            stats.kept_per_operator.get(op, 0),
            _share(stats.kept_per_operator.get(op, 0), tried),
        ]
        for op, tried in sorted(stats.attempted_per_operator.items())
    ]
    rules = [[rule, n, f"{100 * share:.0f}%"] for rule, n, share in rule_yield(stats)]
    warnings = "".join(
        f"<p class='warn'><b>warning</b>: {html.escape(line.removeprefix('warning: '))}</p>"
        for line in yield_warnings(stats)
    )
    return (
        "<section><h2>Yield</h2>"
        + warnings
        + "<div class='grid'><div>"
        + _table(["operator", "tried", "kept", "kept share"], ops)
        + "</div><div>"
        + _table(["rule", "dropped", "share of tried"], rules or [["(none)", 0, "0%"]])
        + "</div></div></section>"
    )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


_SCORES_CAPTION = (
    "Mean difficulty, quality and other scores per round and per operator "
    "(from metadata.scores, written by evolkit score)."
)


def _scores_section(figures: Figures) -> str:
    if "scores" not in figures:
        return (
            "<section><h2>Scores</h2><p class='muted'>No row is scored yet: run "
            "<code>evolkit score OUT</code> to judge difficulty and quality per round and per "
            "operator.</p></section>"
        )
    return (
        "<section><h2>Scores</h2>"
        + _fig(figures, "scores", _SCORES_CAPTION)
        + "<p class='muted'>Did each round get harder? The left panel answers it: a rising "
        "difficulty line means the rewrites asked for more.</p></section>"
    )


def render_html(
    run: RunData,
    figures: Figures,
    quality: QualitySummary,
    *,
    title: str | None = None,
    chains: int = 5,
) -> str:
    """The report page for ``run``."""
    name = title or (run.output.name if run.output else "evolkit run")
    s = run.stats
    model = ", ".join(sorted(s.usage_per_model)) or str(run.settings.get("model", "–"))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    chain_cards = "".join(chain_html(c) for c in sample_chains(run, k=chains))
    quality_note = (
        f"Embedding diversity uses {html.escape(quality.embedding_model)}: mean pairwise cosine "
        "distance within a round, and mean cosine distance from each instruction to its seed."
        if quality.embedding_model
        else "Install the <code>quality</code> extra for embedding diversity."
    )
    sections = [
        f"<section><h1>evolkit run report</h1><div class='muted'>{html.escape(name)} · "
        f"model {html.escape(model)} · written {when}</div>{_cards(run)}</section>",
        "<section><h2>Rounds and operators</h2><div class='grid'>"
        + _fig(figures, "rows", "Rows kept (green) and evolutions dropped (red) in each round.")
        + _fig(figures, "operators", "Evolutions kept and dropped per operator.")
        + f"</div><div style='margin-top:12px'>{stats_html(s, run.drops_per_round())}</div>"
        "</section>",
        _yield_section(s),
        "<section><h2>Drops</h2><div class='grid'>"
        + _fig(figures, "drops", "Drop reasons, most frequent at the top.")
        + f"<div>{_drop_table(run)}</div></div></section>",
        "<section><h2>Length and complexity</h2><div class='grid'>"
        + _fig(figures, "length", "Words per instruction in each round.")
        + _fig(figures, "complexity", "Complexity proxy in each round.")
        + "</div><p class='muted'>Complexity proxy = words / 10 + clauses + constraint "
        "markers (must, at least, only, each, if, step, …) + numbers. It rises as rewrites add "
        "requirements and specifics; compare rounds of one run, not runs with each other.</p>"
        "</section>",
        _scores_section(figures),
        "<section><h2>Data quality</h2><div class='grid'>"
        + _fig(figures, "diversity", "Lexical (distinct-n) and embedding diversity per round.")
        + f"<div class='wide'>{quality.html_table()}<p class='muted'>distinct-n: distinct "
        f"word n-grams / all n-grams of a round, measured on {quality.sample_size} "
        "instructions per round. "
        f"Percentages compare with the seeds. {quality_note}</p></div></div></section>",
        "<section><h2>Tokens and cost</h2><div class='grid'>"
        + _fig(figures, "tokens", "Prompt and completion tokens per round.")
        + "<div>"
        + _table(["model", "prompt", "completion", "cost"], _usage_rows(s.usage_per_model))
        + "<br>"
        + _table(
            ["operator", "prompt", "completion", "cost"],
            _usage_rows({k or "(responses)": u for k, u in s.usage_per_operator.items()}),
        )
        + f"<p class='muted'>{s.calls_sent:,} calls sent · {s.journal_hits:,} resumed from the "
        f"journal · {s.cache_hits:,} from the cache · {s.retries:,} retries · "
        f"{s.call_failures:,} failed</p></div></div></section>",
        "<section><h2>Evolution chains</h2><p class='muted'>From a seed to the last round; "
        "<ins>added</ins> and <del>removed</del> words are marked at each step.</p>"
        f"{chain_cards or '<p>No rows.</p>'}</section>",
        "<section><h2>Settings</h2><pre>"
        + html.escape(json.dumps(dict(run.settings), indent=2, sort_keys=True, default=str))
        + "</pre></section>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>evolkit report · {html.escape(name)}</title><style>{_CSS}</style>"
        f"<script>{_SCRIPT}</script></head><body><main>{''.join(sections)}</main></body></html>"
    )
