"""``evolkit filter IN -o OUT``: run the eliminator again over an existing data set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evolkit._arguments import positive_int
from evolkit.engine.config import split_names

__all__ = ["add_subcommand", "run"]


def add_subcommand(subparsers: Any) -> None:
    """Add ``filter`` to the ``evolkit`` command."""
    p = subparsers.add_parser(
        "filter",
        help="judge an existing data set again with the eliminator's rules",
        description=(
            "Read IN (evolkit's output, or any JSONL / Alpaca JSON file; parents are found by "
            "parent_id in the same file), judge every evolved row with the filters, write the "
            "kept rows to OUT and every row's verdicts to OUT.verdicts.jsonl, and print the "
            "kept and dropped counts per reason. Rules that ask the model run only with --model."
        ),
    )
    p.add_argument("input", type=Path, help="data set to judge (.jsonl or Alpaca .json)")
    p.add_argument("-o", "--output", type=Path, required=True, help="kept rows (.jsonl)")
    p.add_argument(
        "--filters", default=None, help="filters in order, comma-separated (default: the defaults)"
    )
    p.add_argument("--model", default=None, help="model for the model-based rules (off without)")
    p.add_argument("--api-base", default=None, help="endpoint for the model")
    p.add_argument("--concurrency", type=positive_int, default=8, help="model calls in flight (8)")
    p.add_argument(
        "--verdicts", type=Path, default=None, help="verdicts file (default: OUT.verdicts.jsonl)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Judge, write, print the counts."""
    from rich.console import Console

    from evolkit._plugins import default_plugins
    from evolkit._protocols import Backend, ClosableBackend
    from evolkit.engine._loop import run_sync
    from evolkit.errors import ConfigError, SeedFileError
    from evolkit.io import atomic_writer, read_instructions
    from evolkit.refilter import calls_model, drop_counts, refilter

    plugins = default_plugins()
    registry = plugins.filters()
    names = registry.defaults() if args.filters is None else list(split_names(args.filters) or ())
    if not names:
        raise ConfigError("--filters names no filter: give at least one, e.g. --filters near_copy")
    chosen = [registry.get(n) for n in names]
    skipped = [f.name for f in chosen if calls_model(f) and args.model is None]
    filters = [f for f in chosen if f.name not in skipped]
    rows = list(read_instructions(args.input))
    if not rows:
        raise SeedFileError(str(args.input), None, "the file has no rows", "nothing to judge")
    backend: Backend | None = None
    if args.model is not None:
        params = {"api_base": args.api_base} if args.api_base else {}
        backend = plugins.backends().create(args.model, params)
    mutators = {name: plugins.mutators().get(name) for name in plugins.mutators()}
    from evolkit.engine.preflight import check_output_file

    verdicts_path = args.verdicts or args.output.with_name(args.output.name + ".verdicts.jsonl")
    for path in (args.output, verdicts_path):
        check_output_file(path)  # before any model call
    try:
        results = refilter(
            rows, filters, backend=backend, mutators=mutators, concurrency=args.concurrency
        )
    finally:
        held: object = backend
        if isinstance(held, ClosableBackend):
            run_sync(held.aclose())
    with atomic_writer(args.output) as out, atomic_writer(verdicts_path) as log:
        for result in results:
            log.write(json.dumps(result.to_record(), ensure_ascii=False) + "\n")
            if result.kept:
                out.write(json.dumps(result.row.to_record(), ensure_ascii=False) + "\n")
    kept = sum(r.kept for r in results)
    console = Console(highlight=False)
    console.print(f"{len(results)} rows: {kept} kept, {len(results) - kept} dropped")
    for reason, count in sorted(drop_counts(results).items(), key=lambda kv: (-kv[1], kv[0])):
        console.print(f"  dropped {count:>6}  {reason}")
    if skipped:
        console.print(f"not run (they ask the model; pass --model): {', '.join(skipped)}")
    console.print(f"wrote {args.output} and {verdicts_path}")
    return 0
