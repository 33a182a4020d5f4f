"""Summary tables of a run, shared by the CLI (`evolkit evolve`, `evolkit stats`) and notebooks."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from evolkit.engine.preflight import check_data_file, check_input
from evolkit.engine.stats import RunStats, rule_yield
from evolkit.errors import SeedFileError

__all__ = ["load_stats", "render_stats", "report_path", "run_status"]


def report_path(output: Path) -> Path:
    """``OUT.run.json``, the machine-readable report written beside a run's output."""
    from evolkit.engine.workdir import summary_path

    return summary_path(output)


def run_status(output: Path) -> str | None:
    """``complete`` or ``stopped: <cause>`` from the run's report, if it has one."""
    report = report_path(output)
    if not report.exists():
        return None
    status = json.loads(report.read_text(encoding="utf-8")).get("status", "complete")
    return str(status)


def load_stats(output: Path) -> RunStats:
    """The counts of the run that wrote ``output``: from its report, or recounted from rows."""
    report = report_path(output)
    if report.exists():  # its counts are the report's: a stopped run may have no rows at all
        if os.path.lexists(output):
            check_input(output)
    else:
        check_data_file(output, fix="pass the -o path of a run")
    if report.exists():
        return RunStats.from_json(json.loads(report.read_text(encoding="utf-8"))["stats"])
    if not output.exists():
        raise SeedFileError(str(output), None, "file not found", "pass the -o path of a run")
    from evolkit.io import read_instructions

    per_round: Counter[int] = Counter()
    per_operator: Counter[str] = Counter()
    seeds = 0
    for inst in read_instructions(output):
        per_round[inst.round] += 1
        if inst.operator:
            per_operator[inst.operator] += 1
        else:
            seeds += 1
    return RunStats(
        seeds=seeds,
        rounds=max(per_round, default=0),
        rows_per_round=dict(per_round),
        kept_per_operator=dict(per_operator),
        attempted_per_operator=dict(per_operator),
    )


def render_stats(stats: RunStats, title: str = "evolkit run") -> Any:
    """A rich renderable: rows per round, operators kept/tried, drop reasons, usage."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.table import Table

    rounds = Table(title="rows per round")
    rounds.add_column("round", justify="right")
    rounds.add_column("rows", justify="right")
    for r, n in sorted(stats.rows_per_round.items()):
        rounds.add_row("seeds" if r == 0 else str(r), str(n))
    rounds.add_row("[bold]total[/]", f"[bold]{stats.rows}[/]")

    ops = Table(title="operators")
    for column in ("operator", "kept", "tried", "kept %"):
        ops.add_column(column, justify="right" if column != "operator" else "left")
    for op, tried in sorted(stats.attempted_per_operator.items()):
        kept = stats.kept_per_operator.get(op, 0)
        share = f"{100 * kept / tried:.0f}%" if tried else "-"
        ops.add_row(op, str(kept), str(tried), share)

    rules = Table(title="yield per rule")
    for column in ("rule", "dropped", "of tried"):
        rules.add_column(column, justify="right" if column != "rule" else "left")
    for rule, dropped, rule_share in rule_yield(stats):
        rules.add_row(rule, str(dropped), f"{100 * rule_share:.0f}%")
    tried = sum(stats.attempted_per_operator.values())
    kept = sum(stats.kept_per_operator.values())
    if tried:
        rules.add_row("[bold]kept[/]", f"[bold]{kept}[/]", f"[bold]{100 * kept / tried:.0f}%[/]")

    reasons = Table(title="drop reasons")
    reasons.add_column("reason")
    reasons.add_column("count", justify="right")
    for reason, n in sorted(stats.drop_reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.add_row(reason, str(n))

    usage = stats.usage
    footer = (
        f"{stats.rows} rows from {stats.seeds} seeds · {stats.rounds} rounds · "
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens · "
        f"${usage.cost:.4f} · {stats.calls_sent} calls sent, {stats.journal_hits} resumed, "
        f"{stats.cache_hits} cached, {stats.retries} retries, {stats.hedged} hedged · "
        f"{stats.elapsed_s:.1f}s"
    )
    return Group(f"[bold]{title}[/]", Columns([rounds, ops, rules, reasons]), footer)
