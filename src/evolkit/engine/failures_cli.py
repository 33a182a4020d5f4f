"""The command line's side of failure behaviour: flags and the failure summary (signals:
:mod:`evolkit.engine.interrupts`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from evolkit.engine.config import DUPLICATE_IDS
from evolkit.engine.stats import RunStats, yield_warnings

__all__ = ["add_failure_arguments", "failure_settings", "report_failures", "unanswered_exit"]


def add_failure_arguments(p: Any) -> None:
    """``--max-failure-rate``, ``--breaker-calls``, ``--strict``, size limits, duplicate ids."""
    p.add_argument(
        "--max-failure-rate",
        type=float,
        default=None,
        help="stop when more than this share of a round's items fail (default 0.5)",
    )
    p.add_argument(
        "--breaker-calls",
        type=int,
        default=None,
        help="stop when this many failed calls in a row share one cause (default 20)",
    )
    p.add_argument(
        "--strict", action="store_true", help="stop at the first plugin error (a bug, not a drop)"
    )
    p.add_argument(
        "--allow-unanswered",
        action="store_true",
        help="exit 0 even when some seeds are left without an answer (their answer failed); "
        "by default such a run exits 2, and running it again asks for those answers again",
    )
    p.add_argument(
        "--max-reply-chars",
        type=int,
        default=None,
        help="drop a reply longer than this (default 100000)",
    )
    p.add_argument(
        "--max-instruction-chars",
        type=int,
        default=None,
        help="drop an instruction longer than this (default 50000)",
    )
    p.add_argument(
        "--duplicate-ids",
        choices=DUPLICATE_IDS,
        default=None,
        help="seed rows sharing an id but differing: refuse (error, default), keep both with "
        "fresh ids (rename), or keep the first (drop)",
    )


def failure_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~evolkit.engine.config.EvolveConfig` settings the flags above give."""
    names = (
        "max_failure_rate",
        "breaker_calls",
        "max_reply_chars",
        "max_instruction_chars",
        "duplicate_ids",
    )
    settings = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "strict", False):
        settings["strict"] = True
    return settings


def report_failures(stats: RunStats) -> None:
    """Print the failure summary and the yield warnings to stderr (even with ``-q``)."""
    for line in yield_warnings(stats):
        print(line, file=sys.stderr)
    if not stats.failures:
        return
    total = sum(stats.failures.values())
    print(f"warning: {total} calls failed past their retries:", file=sys.stderr)
    for cause, count in sorted(stats.failures.items(), key=lambda kv: (-kv[1], kv[0])):
        example = stats.failure_examples.get(cause, "")
        print(f"  {count} x {cause}: {example}", file=sys.stderr)


def unanswered_exit(stats: RunStats, allowed: bool) -> int:
    """The exit code of a run whose data set may hold seeds left without an answer: one line
    on stderr when it does, and 2 unless ``allowed`` (``--allow-unanswered``)."""
    missing = stats.seed_response_failures
    if not missing:
        return 0
    line = (
        f"{missing} of {stats.rows} rows have no answer (their seed's answer failed, see the "
        "drops); run the same command again to ask for them again"
    )
    if allowed:
        print(f"warning: {line}", file=sys.stderr)
        return 0
    print(f"error: {line}, or pass --allow-unanswered to keep them so", file=sys.stderr)
    return 2
