"""Auto Evol-Instruct against the built-in operators, on three disjoint instruction sets.

1. ``evolkit.auto.optimize`` fits a method on SEEDS (trajectories) and DEV (selection):
   ``--steps`` steps, ``--candidates`` candidates each.
2. TEST is evolved for one round twice, with the same model, seed and filters: once with the
   built-in operators (the default mix), once with the optimised method.
3. For both: the eliminator's failure rate (every dropped evolution / attempted), the reasons,
   and the kept rows' mean length (words) and complexity (``evolkit.report`` proxy).

    python benchmarks/auto_evol.py --workdir /tmp/auto-bench            # the embedded model
    python benchmarks/auto_evol.py --model fake/x --workdir /tmp/auto-fake   # a dry run
    python benchmarks/auto_evol.py --workdir /tmp/auto-on --structured on   # constrained replies

The sets are written here, small and general (no benchmark data): a CPU model answers
every call, so a run with the embedded model takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from statistics import fmean
from typing import Any

from evolkit import evolve
from evolkit.auto import optimize
from evolkit.auto._cli import method_setup
from evolkit.auto._render import render_result
from evolkit.report._metrics import complexity, word_count

SEEDS = [
    "Explain why the sky looks blue during the day.",
    "Write a short poem about a lighthouse.",
    "Give three tips for keeping houseplants alive.",
    "How does a bicycle gear system work?",
    "Summarise the water cycle for a child.",
    "Suggest a weekend plan for a family visiting a new city.",
]
DEV = [
    "Describe how bread rises when it is baked.",
    "Write a thank-you note to a neighbour who helped you move.",
    "What are the main causes of ocean tides?",
    "List some ways to save energy at home.",
    "Explain what a budget is and why it helps.",
    "How do bees make honey?",
]
TEST = [
    "Explain how a compass finds north.",
    "Write a short story opening set on a train.",
    "What should a beginner know before running a first 5 km race?",
    "Describe how volcanoes form.",
    "Give advice for writing a clear email to a teacher.",
    "Why do leaves change colour in autumn?",
    "Compare reading a paper book with reading on a screen.",
    "How does composting turn food scraps into soil?",
    "Explain what a solar panel does.",
    "Suggest a simple vegetarian dinner for two people.",
]


def _measure(label: str, result: Any, test: list[str]) -> dict[str, Any]:
    attempted = len(test)
    kept = [row for row in result if row.round == 1]
    drops = [d for d in result.iter_drops() if d.stage != "respond_seed" and d.round == 1]
    return {
        "label": label,
        "attempted": attempted,
        "kept": len(kept),
        "failure_rate": round(len(drops) / attempted, 3),
        "reasons": dict(Counter(d.reason for d in drops).most_common()),
        "mean_words": round(fmean(word_count(r.text) for r in kept), 1) if kept else 0.0,
        "mean_complexity": round(fmean(complexity(r.text, r.input) for r in kept), 2)
        if kept
        else 0.0,
        "seed_mean_words": round(fmean(word_count(t) for t in test), 1),
        "seed_mean_complexity": round(fmean(complexity(t) for t in test), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the embedded model")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("--trajectory-rounds", type=int, default=1)
    parser.add_argument("--mutate-tokens", type=int, default=384)
    parser.add_argument("--respond-tokens", type=int, default=160)
    parser.add_argument("--optimizer-tokens", type=int, default=384)
    parser.add_argument("--dev-size", type=int, default=len(DEV), help="first N of DEV")
    parser.add_argument("--test-size", type=int, default=len(TEST), help="first N of TEST")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--structured", choices=("auto", "on", "off"), default="off",
        help="constrain the evolver's replies (rewrites, verdicts) to their JSON shapes",
    )  # fmt: skip
    args = parser.parse_args()
    dev, test = DEV[: args.dev_size], TEST[: args.test_size]
    args.workdir.mkdir(parents=True, exist_ok=True)
    test_file = args.workdir / "test.txt"
    test_file.write_text("\n".join(test) + "\n", encoding="utf-8")
    cache = args.workdir / "cache.sqlite"
    engine = {
        "seed": args.seed,
        "cache": cache,
        "structured": args.structured,
        "mutate_params": {"temperature": 0.7, "max_tokens": args.mutate_tokens},
        "respond_params": {"temperature": 0.7, "max_tokens": args.respond_tokens},
    }
    started = time.monotonic()
    result = optimize(
        SEEDS,
        dev,
        output=args.workdir / "method.toml",
        model=args.model,
        steps=args.steps,
        candidates=args.candidates,
        batch_size=args.batch_size,
        trajectory_rounds=args.trajectory_rounds,
        optimizer_params={"temperature": 0.7, "max_tokens": args.optimizer_tokens},
        log=lambda line: print(line, flush=True),
        **engine,
    )
    optimise_s = time.monotonic() - started
    print(render_result(result), flush=True)

    started = time.monotonic()
    builtin = evolve(
        test_file,
        rounds=1,
        model=args.model,
        output=args.workdir / "test-builtin.jsonl",
        respond_seeds=False,
        **engine,
    )
    builtin_s = time.monotonic() - started
    plugins, operators = method_setup(args.workdir / "method.toml", None)
    started = time.monotonic()
    auto = evolve(
        test_file,
        rounds=1,
        model=args.model,
        output=args.workdir / "test-method.jsonl",
        plugins=plugins,
        operators=operators,
        respond_seeds=False,
        **engine,
    )
    auto_s = time.monotonic() - started
    figures = {
        "sets": {"seeds": len(SEEDS), "dev": len(dev), "test": len(test)},
        "structured": args.structured,
        "optimise": {
            "steps": args.steps,
            "candidates": args.candidates,
            "dev_failure_rate_per_step": result.failure_rates,
            "calls": result.calls_sent,
            "tokens": result.usage.total_tokens,
            "wall_s": round(optimise_s, 1),
        },
        "builtin": {**_measure("built-in operators", builtin, test), "wall_s": round(builtin_s, 1)},
        "method": {**_measure("optimised method", auto, test), "wall_s": round(auto_s, 1)},
    }
    print(json.dumps(figures, indent=2))
    (args.workdir / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
