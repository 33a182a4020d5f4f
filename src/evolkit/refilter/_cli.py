"""``evolkit filter IN -o OUT``: run the eliminator again over an existing data set.

``evolkit filter OUT --labels OUT.labels.jsonl`` measures the rules against the labels typed in
``evolkit view`` instead (:mod:`evolkit.refilter._calibrate`) and writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evolkit._arguments import Command, positive_int
from evolkit.engine.config import split_names

__all__ = ["JOURNAL_NAME", "add_subcommand", "run"]

#: The journal of the judge calls, in the work directory of the output (``OUT.evolkit/``).
JOURNAL_NAME = "filter-journal.sqlite"


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit filter``."""
    p.add_argument("input", type=Path, help="data set to judge (.jsonl or Alpaca .json)")
    p.add_argument("-o", "--output", type=Path, default=None, help="kept rows (.jsonl)")
    p.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="labels from 'evolkit view' (OUT.labels.jsonl): measure the rules against them",
    )
    p.add_argument(
        "--filters", default=None, help="filters in order, comma-separated (default: the defaults)"
    )
    p.add_argument("--model", default=None, help="model for the model-based rules (off without)")
    p.add_argument("--api-base", default=None, help="endpoint for the model")
    p.add_argument("--concurrency", type=positive_int, default=8, help="model calls in flight (8)")
    p.add_argument("--retries", type=int, default=4, help="retries per model call (4)")
    p.add_argument(
        "--verdicts", type=Path, default=None, help="verdicts file (default: OUT.verdicts.jsonl)"
    )


def run(args: argparse.Namespace) -> int:
    """Judge, write, print the counts."""
    from rich.console import Console

    from evolkit._protocols import ClosableBackend
    from evolkit.engine._loop import run_sync
    from evolkit.errors import ConfigError, SeedFileError
    from evolkit.io import atomic_writer, read_instructions
    from evolkit.refilter import drop_counts, refilter

    if args.labels is not None:
        if args.output is not None:
            raise ConfigError(
                "--labels measures the rules and writes no data set: leave out -o (or --labels)"
            )
        return _run_labels(args)
    if args.output is None:
        raise ConfigError("evolkit filter needs -o OUT for the kept rows (or --labels LABELS)")
    filters, skipped = _chosen_filters(args)
    from evolkit.engine.preflight import (
        check_data_file,
        check_output_file,
        refuse_output_over_input,
    )

    check_data_file(args.input)
    verdicts_path = args.verdicts or args.output.with_name(args.output.name + ".verdicts.jsonl")
    for path in (args.output, verdicts_path):
        refuse_output_over_input(path, args.input)
    rows = list(read_instructions(args.input))
    if not rows:
        raise SeedFileError(str(args.input), None, "the file has no rows", "nothing to judge")
    backend, mutators = _model_and_operators(args)
    for path in (args.output, verdicts_path):
        check_output_file(path)  # before any model call
    from evolkit.engine.lock import writing
    from evolkit.engine.workdir import WorkDir

    workdir = WorkDir.for_output(args.output).path  # its journal: a stopped run resumes
    try:
        with writing(workdir, args.output):
            results = refilter(
                rows,
                filters,
                backend=backend,
                mutators=mutators,
                concurrency=args.concurrency,
                journal=workdir / JOURNAL_NAME if backend is not None else None,
                retries=args.retries,
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


def _chosen_filters(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """The filters to run, and the names of those left out for want of --model."""
    from evolkit._plugins import default_plugins
    from evolkit.errors import ConfigError
    from evolkit.refilter import calls_model

    registry = default_plugins().filters()
    names = registry.defaults() if args.filters is None else list(split_names(args.filters) or ())
    if not names:
        raise ConfigError("--filters names no filter: give at least one, e.g. --filters near_copy")
    chosen = [registry.get(n) for n in names]
    skipped = [f.name for f in chosen if calls_model(f) and args.model is None]
    return [f for f in chosen if f.name not in skipped], skipped


def _model_and_operators(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The backend for the model-based rules (``None`` without --model) and every operator."""
    from evolkit._plugins import default_plugins

    plugins = default_plugins()
    backend = None
    if args.model is not None:
        params = {"api_base": args.api_base} if args.api_base else {}
        backend = plugins.backends().create(args.model, params)
    return backend, {name: plugins.mutators().get(name) for name in plugins.mutators()}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _run_labels(args: argparse.Namespace) -> int:
    """Judge the labelled rows, print precision and recall per rule and the disagreements."""
    from rich.console import Console

    from evolkit._protocols import ClosableBackend
    from evolkit.engine._loop import run_sync
    from evolkit.errors import ConfigError
    from evolkit.refilter._calibrate import calibrate
    from evolkit.view._index import RowIndex
    from evolkit.view._labels import read_labels

    if not args.labels.is_file():
        raise ConfigError(
            f"{args.labels}: no labels file; label rows in 'evolkit view {args.input}' first"
        )
    labels = {label.id: label for label in read_labels(args.labels)}
    if not any(label.label is not None for label in labels.values()):
        raise ConfigError(f"{args.labels} holds no keep or drop label: nothing to measure")
    filters, skipped = _chosen_filters(args)
    index = RowIndex.load(args.input)
    backend, mutators = _model_and_operators(args)
    try:
        result = calibrate(
            index,
            labels,
            filters,
            backend=backend,
            mutators=mutators,
            concurrency=args.concurrency,
        )
    finally:
        if isinstance(backend, ClosableBackend):
            run_sync(backend.aclose())
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"{result.labelled} labelled rows; a drop is the positive call: precision is the share "
        "of a rule's drops you labelled drop, recall the share of your drops it dropped"
    )
    width = max(len(r.name) for r in [*result.rules, result.eliminator]) + 2
    width = max(width, len("as the run decided") + 2)
    heads = ("judged", "drop/drop", "drop/keep", "keep/drop", "precision", "recall")
    console.print("rule".ljust(width) + "".join(h.rjust(11) for h in heads), markup=False)
    shown = [*result.rules, result.eliminator, result.as_run]
    for k, row in enumerate(shown):
        name = "as the run decided" if k == len(shown) - 1 else row.name
        cells = (row.judged, row.true_drops, row.false_drops, row.missed_drops)
        line = name.ljust(width) + "".join(str(c).rjust(11) for c in cells)
        line += _percent(row.precision).rjust(11) + _percent(row.recall).rjust(11)
        console.print(line, markup=False)
    console.print("(drop/keep: the rule dropped it, you labelled it keep)")
    for why, count in result.not_judged.items():
        console.print(f"not judged ({why}): {count}")
    if skipped:
        console.print(f"not run (they ask the model; pass --model): {', '.join(skipped)}")
    console.print(f"{len(result.disagreements)} disagreements of the eliminator with the labels")
    for d in result.disagreements:
        text = d.text if len(d.text) <= 90 else d.text[:89] + "…"
        console.print(f"  {d.id}  you: {d.label}  eliminator: {d.verdict}  {text!r}", markup=False)
    return 0


COMMAND = Command(
    "filter",
    "judge an existing data set again with the eliminator's rules",
    "Read IN (evolkit's output, or any JSONL / Alpaca JSON file; parents are found by "
    "parent_id in the same file), judge every evolved row with the filters, write the "
    "kept rows to OUT and every row's verdicts to OUT.verdicts.jsonl, and print the "
    "kept and dropped counts per reason. Rules that ask the model run only with --model. "
    "With --labels, judge the labelled rows of the run that wrote IN and print each "
    "rule's and the whole eliminator's precision and recall against the labels, and the "
    "rows where they disagree (no -o).",
    _arguments,
    run,
)
add_subcommand = COMMAND.add_to
