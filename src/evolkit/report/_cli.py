"""``evolkit report OUT``: write the HTML report of a finished run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evolkit._arguments import Command

__all__ = ["add_subcommand", "run"]


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit report``."""
    p.add_argument(
        "output",
        type=Path,
        help="the data set a run wrote (its -o path), or a method file from 'evolkit optimize'",
    )
    p.add_argument(
        "-o", "--html", type=Path, default=None, help="report file (default: OUT.report.html)"
    )
    emb = p.add_mutually_exclusive_group()
    emb.add_argument(
        "--embeddings",
        dest="embeddings",
        action="store_const",
        const=True,
        default=None,
        help="add embedding diversity (needs evolkit[quality]); default: when installed",
    )
    emb.add_argument(
        "--no-embeddings",
        dest="embeddings",
        action="store_const",
        const=False,
        help="lexical diversity only (faster)",
    )
    p.add_argument("--chains", type=int, default=5, help="evolution chains to show (5)")
    p.add_argument(
        "--quality-json", action="store_true", help="also print the data-quality summary as JSON"
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is."""
    from rich.console import Console

    from evolkit.report import load_run, quality_summary, write_report

    if args.output.suffix == ".toml":  # a method file from 'evolkit optimize'
        from evolkit.report._method import write_method_report

        written = write_method_report(args.output, args.html)
        Console(highlight=False).print(f"wrote report to [bold]{written}[/]")
        return 0
    path = write_report(args.output, args.html, embeddings=args.embeddings, chains=args.chains)
    console = Console(highlight=False)
    console.print(f"wrote report to [bold]{path}[/] (open it in a browser)")
    if args.quality_json:
        summary = quality_summary(load_run(args.output).rows, embeddings=args.embeddings)
        print(json.dumps(summary.to_json(), indent=2))
    return 0


COMMAND = Command(
    "report",
    "write a self-contained HTML report of a finished run",
    "Read OUT, OUT.run.json and OUT.evolkit/ of a finished run and write one HTML file "
    "with figures: rows per round, kept and dropped per operator, drop reasons, length "
    "and complexity per round, diversity, token use and cost, and sample evolution "
    "chains.",
    _arguments,
    run,
)
add_subcommand = COMMAND.add_to
