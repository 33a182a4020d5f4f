"""``evolkit eval``: ``gsm8k`` (evaluate a model) and ``contamination`` (check a data set)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from evolkit._arguments import flag_values, fraction, key_value, non_negative_int, positive_int

__all__ = ["add_subcommand", "run_contamination", "run_gsm8k"]


def add_subcommand(subparsers: Any) -> None:
    """Add ``eval`` with its ``gsm8k`` and ``contamination`` subcommands to ``subparsers``."""
    from evolkit.evaluate._styles import STYLES

    parser = subparsers.add_parser(
        "eval", help="evaluate a model on GSM8K, or check a data set for benchmark overlap"
    )
    commands = parser.add_subparsers(dest="eval_command", metavar="{gsm8k,contamination}")
    commands.required = True

    gsm8k = commands.add_parser(
        "gsm8k",
        help="evaluate a model on GSM8K",
        description="Generate answers to GSM8K questions and score them.",
    )
    gsm8k.add_argument("--model", required=True, help="hub name, local path or litellm model")
    gsm8k.add_argument(
        "--backend",
        choices=["auto", "vllm", "hf", "litellm"],
        default="auto",
        help="auto: vllm on a GPU when installed, else hf (default: auto)",
    )
    gsm8k.add_argument("--style", choices=sorted(STYLES), default="wizardmath")
    gsm8k.add_argument("--data", help="GSM8K JSONL file (default: openai/gsm8k from the hub)")
    gsm8k.add_argument("--split", default="test", help="which split the data is (default: test)")
    gsm8k.add_argument("--limit", type=non_negative_int, help="evaluate the first N questions")
    gsm8k.add_argument("--num-fewshot", type=non_negative_int, help="worked examples shown")
    gsm8k.add_argument("--fewshot-data", help="GSM8K train JSONL to draw worked examples from")
    gsm8k.add_argument(
        "--strip-calculator", action="store_true", help="remove <<...>> calculator notes"
    )
    gsm8k.add_argument("--batch-size", type=positive_int, default=8, help="hf batch size")
    gsm8k.add_argument("--max-new-tokens", type=positive_int, default=512)
    gsm8k.add_argument("--samples", type=positive_int, default=1, help="k for maj@k")
    gsm8k.add_argument("--temperature", type=float, help="default 0 (greedy), 0.7 with k > 1")
    gsm8k.add_argument("--top-p", type=float, default=1.0)
    gsm8k.add_argument("--seed", type=int, default=0)
    gsm8k.add_argument("--concurrency", type=positive_int, default=16, help="litellm requests")
    gsm8k.add_argument(
        "--option",
        "-O",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option (vllm engine arg, hf device/dtype/static_cache/compile, litellm "
        "api_base…); VALUE is read as JSON when it parses",
    )
    gsm8k.add_argument(
        "--max-failure-rate",
        type=fraction,
        default=0.5,
        help="fail (exit 2, no score) when more than this share of questions had failed calls",
    )
    gsm8k.add_argument("-o", "--output", help="write per-question records to this JSONL file")
    gsm8k.add_argument("--summary", help="write the scores to this JSON file")
    gsm8k.set_defaults(func=run_gsm8k)

    contamination = commands.add_parser(
        "contamination",
        help="find rows of a data set that overlap a benchmark (GSM8K, MATH, HumanEval, MBPP…)",
        description=(
            "List rows sharing word n-grams (and, with --embedding-threshold, close embeddings) "
            "with the test items of a benchmark file: GSM8K, MATH, HumanEval or MBPP layouts "
            "are recognised from their fields, any other JSONL is read with --text-field. "
            "Without a file, the GSM8K test set from the hub. Exit code 1 when a row overlaps."
        ),
    )
    contamination.add_argument("data", help="evolkit JSONL data set (instruction/input/output)")
    bench = contamination.add_mutually_exclusive_group()
    bench.add_argument("--benchmark", help="benchmark test file (.jsonl or .json array)")
    bench.add_argument("--gsm8k", help="GSM8K test JSONL (default: the hub copy)")
    contamination.add_argument(
        "--layout",
        choices=["auto", "gsm8k", "math", "humaneval", "mbpp", "mbpp-sanitized"],
        default="auto",
        help="benchmark layout (default: found from the fields)",
    )
    contamination.add_argument("--text-field", help="field holding each test item's text")
    contamination.add_argument(
        "--embedding-threshold",
        type=float,
        help="also flag rows whose instruction embedding has at least this cosine similarity "
        "to a test item (e.g. 0.9; needs evolkit[quality])",
    )
    contamination.add_argument("--ngram", type=positive_int, default=13, help="default 13")
    contamination.add_argument("--min-shared", type=positive_int, default=1)
    contamination.add_argument(
        "--include-solutions", action="store_true", help="also match the test solutions"
    )
    contamination.add_argument("-o", "--output", help="write the hits to this JSONL file")
    contamination.add_argument("--clean", help="write the rows without the flagged ones here")
    contamination.set_defaults(func=run_contamination)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False)


# the flags of ``evolkit eval gsm8k`` handed on to :func:`evaluate_gsm8k` as they were given
_GSM8K_FLAGS = (
    "backend", "style", "data", "split", "limit", "num_fewshot", "fewshot_data",
    "strip_calculator", "max_new_tokens", "samples", "temperature", "top_p", "seed",
    "batch_size", "concurrency", "output",
)  # fmt: skip


def run_gsm8k(args: argparse.Namespace) -> int:
    """Run ``evolkit eval gsm8k``."""
    from evolkit.evaluate._gsm8k import evaluate_gsm8k

    console = _console()
    with console.status(f"evaluating {args.model} on GSM8K ({args.style})…"):
        result = evaluate_gsm8k(
            args.model,
            backend_options=dict(args.option),
            **flag_values(args, *_GSM8K_FLAGS),
        )
    _refuse_if_calls_failed(result, args.max_failure_rate)
    console.print(result)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if result.errors:
        import sys

        print(f"warning: {result.errors} questions had failed calls", file=sys.stderr)
    if args.output:
        console.print(f"records written to {args.output}")
    if args.summary:
        from pathlib import Path

        Path(args.summary).write_text(json.dumps(result.summary(), indent=2) + "\n")
    return 0


def _refuse_if_calls_failed(result: Any, max_rate: float) -> None:
    """An evaluation whose questions failed past ``max_rate`` has no score: say why instead."""
    total = len(result.records)
    if not total or result.errors / total <= max_rate:
        return
    example = next((r.errors[0] for r in result.records if r.errors), "unknown cause")
    from evolkit.errors import EvolkitError

    what = "every call" if result.errors >= total else f"{result.errors} of {total} questions"
    raise EvolkitError(
        f"{what} of the evaluation failed (more than --max-failure-rate {max_rate:g}), no "
        f"score: {example}; fix the cause and run again"
    )


def run_contamination(args: argparse.Namespace) -> int:
    """Run ``evolkit eval contamination``; exits 1 when any row overlaps the test set."""
    from evolkit.evaluate._contamination import check_contamination, read_rows

    console = _console()
    rows = read_rows(args.data)
    report = check_contamination(
        rows,
        args.benchmark or args.gsm8k,
        n=args.ngram,
        **flag_values(
            args, "include_solutions", "min_shared", "layout", "text_field", "embedding_threshold"
        ),
    )
    console.print(report)
    if args.output:
        report.to_jsonl(args.output)
        console.print(f"hits written to {args.output}")
    if args.clean:
        from pathlib import Path

        kept = report.clean(rows)
        with Path(args.clean).open("w", encoding="utf-8") as handle:
            for row in kept:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        console.print(f"{len(kept)} rows without overlap written to {args.clean}")
    return 1 if report.hits else 0
