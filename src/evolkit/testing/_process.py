"""Run the fake server in a child process, so that client and server do not share a GIL;
and the command line of ``python -m evolkit.testing.server``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from evolkit._child import ChildServer
from evolkit.testing._faults import FAULT_KINDS, FaultPlan, ServerStats

if TYPE_CHECKING:
    from evolkit.testing.server import FakeServer

__all__ = ["ServerProcess", "serve_main"]


class ServerProcess(ChildServer):
    """``python -m evolkit.testing.server ARGS`` for the duration of a ``with`` block.

    ``url`` is the base URL the child printed; :meth:`snapshot` and :meth:`reset_stats` talk to
    its ``/_fake/stats`` and ``/_fake/reset`` routes. Leaving the block sends SIGTERM and waits.
    Start and stop are :class:`evolkit._child.ChildServer`'s, as for the local model server.
    """

    description = "the fake server"
    stdin_eof_stops = False
    grace = 10.0

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        python: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.args = list(args)
        self.python = python or sys.executable

    def __repr__(self) -> str:
        return f"ServerProcess({self.address or 'not started'})"

    def command(self) -> list[str]:
        return [self.python, "-m", "evolkit.testing.server", *self.args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def ready_address(self, line: str) -> str | None:
        return line if line.startswith("http") else None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234/v1``."""
        if self.address is None:
            raise RuntimeError("ServerProcess is not running; use it in a `with` block")
        return self.address

    @property
    def pid(self) -> int:
        """The child's process id."""
        pid = super().pid
        if pid is None:
            raise RuntimeError("ServerProcess is not running")
        return pid

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, method: str, route: str) -> bytes:
        root = self.url.removesuffix("/v1")
        request = urllib.request.Request(
            root + route, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data: bytes = response.read()
        return data

    def snapshot(self) -> ServerStats:
        """The child's counters now."""
        return ServerStats.from_dict(json.loads(self._call("GET", "/_fake/stats")))

    def reset_stats(self) -> None:
        """Clear the child's counters, attempt numbers included."""
        self._call("POST", "/_fake/reset")


# -- python -m evolkit.testing.server -----------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evolkit.testing.server",
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
    from evolkit.testing.server import FakeServer

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
