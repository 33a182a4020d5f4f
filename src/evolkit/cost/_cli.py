"""``evolkit evolve`` flags for paying less: ``--batch``, ``--max-cost``, ``--dry-run``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_cost_arguments", "cost_settings", "run_dry"]


def add_cost_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("paying less (see the 'Paying less' guide)")
    g.add_argument(
        "--batch",
        action="store_true",
        help="send the calls as provider batch jobs (about half the price, answers within 24h)",
    )
    g.add_argument(
        "--batch-max-requests", type=int, default=None, help="requests per batch (50000)"
    )
    g.add_argument(
        "--batch-max-bytes", type=int, default=None, help="bytes per batch file (200 MB)"
    )
    g.add_argument("--batch-poll", type=float, default=None, help="first poll interval, s (15)")
    g.add_argument(
        "--batch-quiet",
        type=float,
        default=None,
        help="seconds without a new call before a batch is sent (2)",
    )
    g.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="stop (resumably) before spending more than USD on new calls",
    )
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="run a small pilot and print the forecast calls, tokens and cost; no full run",
    )
    g.add_argument(
        "--pilot-share",
        type=float,
        default=0.05,
        help="share of the seeds the --dry-run pilot evolves (0.05; at least 5 seeds)",
    )


def cost_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings the flags ask for (``batch`` and ``max_cost``)."""
    settings: dict[str, Any] = {}
    if args.max_cost is not None:
        settings["max_cost"] = args.max_cost
    if args.batch:
        given = {
            "max_requests": args.batch_max_requests,
            "max_bytes": args.batch_max_bytes,
            "poll": args.batch_poll,
            "quiet": args.batch_quiet,
        }
        settings["batch"] = {k: v for k, v in given.items() if v is not None}
        if args.batch_poll is not None:
            settings["batch"]["poll_max"] = max(args.batch_poll, min(300.0, args.batch_poll * 20))
    return settings


def run_dry(args: argparse.Namespace, params: dict[str, Any], settings: dict[str, Any]) -> int:
    """``--dry-run``: the pilot, then the forecast table on stdout."""
    import sys

    from evolkit.cost._forecast import forecast

    print(
        f"running a pilot on {args.pilot_share:.0%} of the seeds (at least 5), online; "
        "the run reuses its calls",
        file=sys.stderr,
    )
    result = forecast(
        args.seeds,
        output=args.output,
        model=args.model,
        model_params=params,
        pilot_share=args.pilot_share,
        **settings,
    )
    print(result.render())
    return 0
