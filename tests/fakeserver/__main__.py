"""``python -m fakeserver``: serve the fake OpenAI-compatible API until SIGINT or SIGTERM.

Prints the base URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from fakeserver._faults import FAULT_KINDS, FaultPlan
from fakeserver.server import FakeServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fakeserver",
        description="Serve a fake OpenAI-compatible chat-completions API with injectable faults. "
        "Prints the base URL on the first line of stdout, then serves until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="± seconds around --latency")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--models", default="fake", help="comma-separated names for /v1/models")
    parser.add_argument("--api-key", default=None, help="answer 401 to requests without this key")
    parser.add_argument(
        "--listed-models-only", action="store_true", help="answer 404 for other models"
    )
    for kind in FAULT_KINDS:
        flag = f"--rate-{kind.replace('_', '-')}"
        parser.add_argument(flag, type=float, default=0.0, help=f"share of attempts with {kind}")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of a 429")
    parser.add_argument(
        "--timeout-delay",
        type=float,
        default=30.0,
        help="seconds a 'timeout' fault holds the request",
    )
    parser.add_argument("--max-faults-per-request", type=int, default=None)
    return parser


def _from_args(args: argparse.Namespace) -> FakeServer:
    rates: dict[str, Any] = {f"rate_{kind}": getattr(args, f"rate_{kind}") for kind in FAULT_KINDS}
    plan = FaultPlan(
        **rates,
        retry_after=args.retry_after,
        timeout_delay=args.timeout_delay,
        max_faults_per_request=args.max_faults_per_request,
    )
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    return FakeServer(
        args.latency,
        plan,
        args.seed,
        jitter=args.jitter,
        host=args.host,
        port=args.port,
        models=models,
        backlog=args.backlog,
        api_key=args.api_key,
        listed_models_only=args.listed_models_only,
    )


async def _serve(server: FakeServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with server:
        print(server.url, flush=True)
        await stop.wait()


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, serve until SIGINT/SIGTERM, return the exit code."""
    args = _parser().parse_args(argv)
    try:
        server = _from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(server))
    return 0


if __name__ == "__main__":
    sys.exit(serve_main())
