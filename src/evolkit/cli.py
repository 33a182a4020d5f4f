"""The ``evolkit`` command. Argument parsing and display only: every command calls the same
functions as the Python API."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolkit._arguments import Command, flag_values
from evolkit.errors import ConfigError, EvolkitError
from evolkit.redact import redact

if TYPE_CHECKING:
    from evolkit._plugins import Plugins
    from evolkit.engine.interrupts import Interrupts

__all__ = ["main"]

_SUBCOMMAND_MODULES = (
    "evolkit.data._cli",
    "evolkit.evaluate._cli",
    "evolkit.train._cli",
    "evolkit.report._cli",
    "evolkit.score._cli",
    "evolkit.refilter._cli",
    "evolkit.auto._cli",
    "evolkit.view._cli",
)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _default_model_text() -> str:
    try:
        from evolkit.backends.default import describe_default

        return describe_default()
    except ImportError:
        return os.environ.get("EVOLKIT_MODEL") or "none (pass --model)"
    except EvolkitError as exc:
        return f"none ({exc})"


def _evolve_description() -> str:
    return (
        "Evolve the instructions in SEEDS (JSONL, JSON array or text) for N rounds and write "
        "the data set to OUT (JSONL with lineage). Running the same command again resumes an "
        f"interrupted run. Default model: {_default_model_text()}."
    )


def _evolve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "seeds",
        help="seed file (.jsonl, .json or plain text, any known layout) or "
        "hf://OWNER/NAME[:CONFIG][@SPLIT]",
    )
    from evolkit.data.layouts import LAYOUTS

    p.add_argument(
        "--field",
        action="append",
        default=None,
        metavar="ROLE=KEY",
        help="where a seed row keeps instruction, input, response or id, e.g. "
        "--field instruction=question (dotted paths for nested keys: instances.0.input)",
    )
    p.add_argument(
        "--layout", choices=list(LAYOUTS), default=None, help="seed layout (default: from the keys)"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="data set to write (.jsonl)")
    p.add_argument("--rounds", type=int, default=4, help="evolution rounds (default 4)")
    p.add_argument(
        "--model",
        default=None,
        help="litellm model string, local/<name>, a .gguf path, or fake/<x> "
        "(default: $EVOLKIT_MODEL, else the embedded model)",
    )
    p.add_argument("--api-base", default=None, help="endpoint for the model (vLLM, Ollama, ...)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="model calls in flight (default 16; a local model: its parallel slots)",
    )
    p.add_argument(
        "--operators",
        default=None,
        help="operators or kinds with optional weights, e.g. 'depth=5,breadth=1' or "
        "'math.upward,math.downward' (default: every default operator, weight 1)",
    )
    p.add_argument("--filters", default=None, help="filters in order (default: the defaults)")
    p.add_argument(
        "--decontaminate",
        type=Path,
        default=None,
        metavar="BENCHMARK",
        help="drop evolved rows sharing 13-grams with this benchmark file (GSM8K, MATH, "
        "HumanEval, MBPP layouts), counted as benchmark_overlap",
    )
    p.add_argument(
        "--method",
        type=Path,
        default=None,
        help="run a method file (from 'evolkit optimize') as an operator, alone or with "
        "--operators",
    )
    p.add_argument("--no-respond", action="store_true", help="do not answer evolved instructions")
    p.add_argument(
        "--respond-system",
        default=None,
        help="system prompt for every response request (e.g. to fix the final-answer form)",
    )
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    p.add_argument("--retries", type=int, default=4, help="retries per call (4)")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per call (default 120; a local model: 600)",
    )
    p.add_argument(
        "--hedge",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send a call far slower than the others a second time when a slot is spare, first "
        "answer wins (default: on, off for a local model)",
    )
    from evolkit.engine.structured import add_structured_argument

    add_structured_argument(p)
    p.add_argument("--rpm", type=float, default=None, help="request-per-minute limit")
    p.add_argument("--tpm", type=float, default=None, help="token-per-minute limit")
    p.add_argument(
        "--cache",
        default="off",
        help="cross-run response cache: 'off' (the default, as in the Python API), 'default' "
        "(~/.cache/evolkit/responses.sqlite) or a file; replies are reused only by a run with "
        "the same settings",
    )
    from evolkit.engine.failures_cli import add_failure_arguments

    add_failure_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="discard a previous run at OUT")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument("--progress", choices=["auto", "rich", "log", "quiet"], default="auto")
    from evolkit.scale._cli import add_scale_arguments

    add_scale_arguments(p)
    from evolkit.cost._cli import add_cost_arguments

    add_cost_arguments(p)


#: The ``evolve`` flags handed to :class:`~evolkit.EvolveConfig` as they were given.
_EVOLVE_FLAGS = (
    "rounds", "seed", "concurrency", "operators", "filters", "respond_system", "retries",
    "timeout", "rpm", "tpm", "hedge", "structured",
)  # fmt: skip


def _config_from_args(args: argparse.Namespace) -> Any:
    """The run's :class:`EvolveConfig` from the ``evolve`` options: the one place they meet."""
    from evolkit.engine.cache import cache_path
    from evolkit.engine.config import EvolveConfig
    from evolkit.engine.failures_cli import failure_settings

    cache = cache_path(args.cache)
    sampling: dict[str, Any] = {}
    if args.temperature is not None:
        sampling["mutate_params"] = {"temperature": args.temperature, "max_tokens": 512}
        sampling["respond_params"] = {"temperature": args.temperature, "max_tokens": 1024}
    try:
        return EvolveConfig(
            **flag_values(args, *_EVOLVE_FLAGS),
            respond=not args.no_respond,
            cache=cache,
            **sampling,
            **failure_settings(args),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _cmd_evolve(args: argparse.Namespace) -> int:
    import attrs

    from evolkit.engine import evolve
    from evolkit.scale._cli import scale_setup

    config = _config_from_args(args)
    plugins = None
    if args.method is not None:
        from evolkit.auto._cli import method_setup

        plugins, operators = method_setup(args.method, args.operators)
        config = attrs.evolve(config, operators=operators)
    if args.decontaminate is not None:
        from evolkit.evaluate.decontaminate import with_decontamination

        plugins, filters = with_decontamination(args.decontaminate, args.filters, plugins)
        config = attrs.evolve(config, filters=filters)
    params: dict[str, Any] = {}
    if args.api_base:
        params["api_base"] = args.api_base
    from evolkit.cost._cli import cost_settings, run_dry

    if args.dry_run:
        settings = {f.name: getattr(config, f.name) for f in attrs.fields(type(config))}
        return run_dry(args, params, {**settings, "plugins": plugins})
    try:
        config = attrs.evolve(config, **cost_settings(args))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    executor = scale_setup(args, params)
    with executor if executor is not None else contextlib.nullcontext():
        result = evolve(
            args.seeds if args.seeds.startswith("hf://") else Path(args.seeds),
            fields=args.field,
            layout=args.layout,
            config=config,
            plugins=plugins,
            model=args.model,
            model_params=params,
            output=args.output,
            overwrite=args.overwrite,
            progress="quiet" if args.quiet else args.progress,
            executor=executor,
        )
    from evolkit.engine.failures_cli import report_failures, unanswered_exit

    if result.already_complete:
        print(
            f"already complete: {args.output} holds this run's {result.stats.rows} rows; "
            "nothing was done (pass --overwrite to start again)",
            file=sys.stderr,
        )
    elif not args.quiet:
        from evolkit.summary import render_stats

        _console().print(render_stats(result.stats, title=f"evolkit run → {args.output}"))
    report_failures(result.stats)
    return unanswered_exit(result.stats, args.allow_unanswered)


def _json_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _plugins_json(plugins: Plugins) -> dict[str, Any]:
    """What ``evolkit plugins --json`` prints."""
    mutators, filters, backends = plugins.mutators(), plugins.filters(), plugins.backends()
    scorers = plugins.scorers()
    return {
        "operators": [
            {"name": e.name, "kind": e.item.kind, "package": e.package, "default": e.default}
            for e in mutators.entries()
        ],
        "filters": [
            {"name": e.name, "package": e.package, "default": e.default} for e in filters.entries()
        ],
        "backends": [
            {"name": e.name, "package": e.package, "description": e.item.description}
            for e in backends.entries()
        ],
        "scorers": [
            {"name": e.name, "package": e.package, "default": e.default} for e in scorers.entries()
        ],
        "plugins": [
            {"name": i.name, "package": i.package, "version": i.version} for i in plugins.info()
        ],
        "default_model": _default_model_text(),
    }


def _plugin_tables(plugins: Plugins) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
    """The tables of ``evolkit plugins``: each its title, its columns and its rows."""
    mutators, filters, backends = plugins.mutators(), plugins.filters(), plugins.backends()
    scorers = plugins.scorers()

    def by_default(default: bool) -> str:
        return "yes" if default else "on request"

    def yes_no(value: bool) -> str:
        return "yes" if value else "no"

    return [
        (
            "operators",
            ("name", "kind", "package", "default"),
            [(e.name, e.item.kind, e.package, by_default(e.default)) for e in mutators.entries()],
        ),
        (
            "filters (run in this order)",
            ("name", "package", "needs response", "default"),
            [
                (f.name, f.package, yes_no(f.item.needs_response), by_default(f.default))
                for f in filters.entries()
            ],
        ),
        (
            "backends",
            ("name", "package", "handles"),
            [(b.name, b.package, b.item.description) for b in backends.entries()],
        ),
        (
            "scorers (evolkit score)",
            ("name", "package", "needs a model", "default"),
            [
                (sc.name, sc.package, yes_no(sc.item.needs_model), by_default(sc.default))
                for sc in scorers.entries()
            ],
        ),
    ]


def _cmd_plugins(args: argparse.Namespace) -> int:
    from evolkit._plugins import default_plugins

    plugins = default_plugins()
    if args.json:
        print(json.dumps(_plugins_json(plugins), indent=2))
        return 0
    from rich.table import Table

    console = _console()
    for title, columns, rows in _plugin_tables(plugins):
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(f"default model: {_default_model_text()}")
    return 0


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", type=Path, help="the data set a run wrote")
    _json_argument(p)


def _cmd_stats(args: argparse.Namespace) -> int:
    from evolkit.io import read_instructions
    from evolkit.score import score_table
    from evolkit.summary import load_stats, render_stats

    stats = load_stats(args.output)
    scores = score_table(read_instructions(args.output)) if args.output.exists() else None
    if args.json:
        data = stats.to_json()
        if scores:
            data["scores"] = scores.to_json()
        print(json.dumps(data, indent=2))
    else:
        _console().print(render_stats(stats, title=str(args.output)))
        if scores:
            _console().print(scores)
        from evolkit.engine.failures_cli import report_failures
        from evolkit.summary import run_status

        status = run_status(args.output)
        if status is not None and status != "complete":
            print(f"warning: the run {status}; run the same command to resume", file=sys.stderr)
        report_failures(stats)
    return 0


_COMMANDS = (
    Command(
        "evolve",
        "evolve a seed file into a data set",
        _evolve_description,
        _evolve_arguments,
        _cmd_evolve,
    ),
    Command(
        "plugins",
        "list operators, filters, backends and scorers with their packages",
        None,
        _json_argument,
        _cmd_plugins,
    ),
    Command(
        "stats",
        "rows per round, per operator, and drop reasons of a run",
        None,
        _stats_arguments,
        _cmd_stats,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolkit", description="Evol-Instruct: evolve, filter, train and evaluate."
    )
    from evolkit import __version__

    parser.add_argument("--version", action="version", version=f"evolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS:
        command.add_to(sub)
    for module_name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        module.add_subcommand(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv``; without ``argv``, the process's own command line, and
    then nothing else (a signal after the command ended is ignored: engine/interrupts.py)."""
    from evolkit.engine.interrupts import INTERRUPTED, INTERRUPTED_STATUS, handle_interrupts

    # From here on Ctrl-C and SIGTERM only ask the command to stop (engine/interrupts.py).
    try:
        with handle_interrupts(last=argv is None) as interrupts:
            return _run_command(argv, interrupts)
    except KeyboardInterrupt:  # in the instant the handler was being put in place or away
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_STATUS


def _run_command(argv: Sequence[str] | None, interrupts: Interrupts) -> int:
    """The command, with every way it can end turned into an exit status and one line."""
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        return interrupts.announce()
    except EvolkitError as exc:
        if interrupts.requested:  # what the stop became on its way out
            return interrupts.announce()
        # One unwrapped line, whatever the terminal width, so logs and scripts can grep it.
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path a command could not read or write that no check foresaw
        if interrupts.requested:
            return interrupts.announce()
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        print(f"error: {where}{reason}: check the path and its permissions", file=sys.stderr)
        return 2


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
