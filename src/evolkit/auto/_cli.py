"""``evolkit optimize``, and the ``--method`` option of ``evolkit evolve``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evolkit._arguments import Command
from evolkit.engine.structured import add_structured_argument

__all__ = ["add_subcommand", "method_setup", "run"]


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit optimize``."""
    p.add_argument("seeds", type=Path, help="seed instructions (.jsonl, .json or text)")
    p.add_argument("--dev", type=Path, required=True, help="held-out dev set, disjoint from SEEDS")
    p.add_argument("-o", "--output", type=Path, required=True, help="method file to write (.toml)")
    p.add_argument("--model", default=None, help="the evolver model (default: as evolve)")
    p.add_argument(
        "--optimizer-model",
        default=None,
        help="analyses and rewrites the method (default: --model)",
    )
    p.add_argument("--api-base", default=None, help="endpoint for the models (vLLM, Ollama, ...)")
    p.add_argument("--steps", type=int, default=3, help="optimisation steps (3)")
    p.add_argument("--candidates", type=int, default=3, help="candidate methods per step (3)")
    p.add_argument("--batch-size", type=int, default=8, help="seeds per mini-batch (8)")
    p.add_argument(
        "--trajectory-rounds", type=int, default=2, help="evolution rounds per trajectory (2)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--name", default="auto", help="method name; its operator is method.NAME")
    p.add_argument("--initial", type=Path, default=None, help="start from this method file")
    p.add_argument(
        "--filters",
        default=None,
        help="the eliminator's filters that judge failures, in order (default: the defaults; "
        "math: add math.final_answer,math.self_consistency; code: code.python_parses)",
    )
    p.add_argument("--respond-system", default=None, help="system prompt for every response")
    p.add_argument("--concurrency", type=int, default=None, help="evolver calls in flight")
    p.add_argument("--timeout", type=float, default=None, help="seconds per call")
    p.add_argument("--retries", type=int, default=4, help="retries per call (4)")
    p.add_argument("--cache", default="default", help="response cache file, 'default' or 'off'")
    p.add_argument("--overwrite", action="store_true", help="discard a previous optimisation")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    add_structured_argument(p)


def run(args: argparse.Namespace) -> int:
    from evolkit._arguments import flag_values
    from evolkit.auto import Method, optimize
    from evolkit.auto._render import render_result
    from evolkit.engine.model_cli import model_settings

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    result = optimize(
        args.seeds,
        args.dev,
        initial=Method.load(args.initial) if args.initial is not None else None,
        log=log,
        progress="quiet" if args.quiet else "log",
        **model_settings(args),
        **flag_values(
            args,
            "output",
            "optimizer_model",
            "steps",
            "candidates",
            "batch_size",
            "trajectory_rounds",
            "seed",
            "name",
            "overwrite",
            "filters",
            "respond_system",
            "structured",
        ),
    )
    print(render_result(result))
    return 0


def method_setup(method_file: Path, operators: str | None) -> tuple[Any, str]:
    """Plugins with the method file's operator registered, and the operators to run."""
    from evolkit._plugins import Plugins
    from evolkit.auto import Method, MethodPlugin

    method = Method.load(method_file)
    plugins = Plugins.load()
    plugins.register(MethodPlugin(method), name=method.operator_name, package=str(method_file))
    chosen = f"{operators},{method.operator_name}" if operators else method.operator_name
    return plugins, chosen


COMMAND = Command(
    "optimize",
    "fit an evolving method to your seeds and model (Auto Evol-Instruct)",
    "Start from a universal evolving method; at each step evolve a mini-batch of SEEDS "
    "with it, have the optimizer model analyse the trajectories and write CANDIDATES "
    "improved methods, and keep the one with the lowest evolution failure rate on the "
    "held-out DEV set (failures judged by the eliminator's filters). Writes the method "
    "file (TOML) and OUT.trajectory.json; the same command again resumes. Run the "
    "method with 'evolkit evolve --method OUT'.",
    _arguments,
    run,
)
add_subcommand = COMMAND.add_to
