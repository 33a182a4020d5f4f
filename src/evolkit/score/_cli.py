"""``evolkit score`` and ``evolkit select``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evolkit._arguments import Command, positive_int
from evolkit.engine.config import split_names
from evolkit.engine.structured import add_structured_argument

__all__ = ["add_subcommand", "run_score", "run_select"]


def _names(text: str) -> list[str]:
    names = list(split_names(text) or ())
    if not names:
        raise argparse.ArgumentTypeError("name at least one")
    return names


def _score_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit score``."""
    p.add_argument(
        "data", metavar="OUT", type=Path, help="the data set to score (.jsonl, a run's -o path)"
    )
    p.add_argument(
        "--scores",
        type=_names,
        default=None,
        help="scorers to run, e.g. 'difficulty,quality,complexity,diversity,growth' "
        "(default: the registered defaults; `evolkit plugins` lists them)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="judge model, as for evolve (default: $EVOLKIT_MODEL, else the embedded model)",
    )
    p.add_argument("--api-base", default=None, help="endpoint for the model")
    p.add_argument("-o", "--output", type=Path, default=None, help="write here (default: OUT)")
    p.add_argument("--concurrency", type=positive_int, default=None, help="calls in flight")
    p.add_argument("--timeout", type=float, default=None, help="seconds per call")
    p.add_argument("--retries", type=int, default=4, help="retries per call (4)")
    p.add_argument("--rpm", type=float, default=None, help="request-per-minute limit")
    p.add_argument("--tpm", type=float, default=None, help="token-per-minute limit")
    p.add_argument("--cache", default="default", help="response cache file, 'default' or 'off'")
    add_structured_argument(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def _select_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit select``."""
    p.add_argument(
        "data", metavar="OUT", type=Path, help="a scored data set (run `evolkit score` first)"
    )
    p.add_argument(
        "-o", "--output", metavar="SUBSET", type=Path, required=True, help="the subset to write"
    )
    p.add_argument("--budget", type=positive_int, required=True, help="rows to take at most")
    p.add_argument(
        "--threshold", type=float, default=0.9, help="cosine similarity that is too close (0.9)"
    )
    p.add_argument(
        "--by",
        type=_names,
        default=["difficulty", "quality"],
        help="scores multiplied into the ranking score (default: difficulty,quality)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run_score(args: argparse.Namespace) -> int:
    """Run ``evolkit score``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from evolkit.score import score_report_path

    bar = Progress(
        "scoring",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=args.quiet or args.json,
    )
    task = bar.add_task("rows", total=None)
    with bar:
        report = _score(args, lambda done, total: bar.update(task, completed=done, total=total))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        console = Console(highlight=False)
        console.print(report)
        console.print(
            f"scores written to {report.output}; report in {score_report_path(report.output)}"
        )
    if report.failed:
        print(f"error: {_failed_line(report)}", file=sys.stderr)
        return 1
    return 0


def _failed_line(report: Any) -> str:
    """The one line of a scoring run that could not give every score."""
    reasons = sorted({reason for per_scorer in report.failures.values() for reason in per_scorer})
    return (
        f"{report.failed} scores of {report.rows} rows could not be given ({', '.join(reasons)}); "
        "they are left out of the rows: fix the cause and run the same command again to ask "
        "for them again"
    )


def _score(args: argparse.Namespace, progress: Any) -> Any:
    from evolkit._arguments import flag_values
    from evolkit.engine.model_cli import model_settings
    from evolkit.score import score

    return score(
        args.data,
        progress=progress,
        **model_settings(args),
        **flag_values(args, "scores", "output", "rpm", "tpm", "structured"),
    )


def run_select(args: argparse.Namespace) -> int:
    """Run ``evolkit select``; exit code 1 when nothing could be taken."""
    from rich.console import Console

    from evolkit.score import select

    report = select(
        args.data, args.output, budget=args.budget, threshold=args.threshold, by=args.by
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        Console(highlight=False).print(report)
    return 0 if report.taken else 1


SCORE = Command(
    "score",
    "score every row: difficulty, quality, complexity along its lineage, diversity",
    "Score every row of OUT and write the scores into each row's metadata "
    "(metadata.scores), with the counts, means per round and per operator, and cost in "
    "OUT.scores.json. Model calls are journaled in OUT.evolkit/ (of the -o file when "
    "given), one writer at a time: running the same command again resumes. A reply that "
    "cannot be read is a counted failure, never a default score. Exit code 1 when some "
    "scores could not be given.",
    _score_arguments,
    run_score,
)


SELECT = Command(
    "select",
    "pick the best rows by score, none too similar to another (deita-style)",
    "Rank the scored rows of OUT by the product of the --by scores and take them best "
    "first, skipping any row whose embedding has a cosine similarity of THRESHOLD or "
    "more with a row already taken, until BUDGET rows are taken. Writes SUBSET, every "
    "decision to SUBSET.selection.jsonl and the counts to SUBSET.select.json.",
    _select_arguments,
    run_select,
)


def add_subcommand(subparsers: Any) -> None:
    """Add ``score`` and ``select`` to the ``evolkit`` command."""
    SCORE.add_to(subparsers)
    SELECT.add_to(subparsers)
