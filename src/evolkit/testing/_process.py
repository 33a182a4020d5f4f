"""Run the fake server in a child process, so that client and server do not share a GIL;
and the command line of ``python -m evolkit.testing.server``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from evolkit.testing._faults import FAULT_KINDS, FaultPlan, ServerStats

if TYPE_CHECKING:
    from evolkit.testing.server import FakeServer

__all__ = ["ServerProcess", "serve_main"]


class ServerProcess:
    """``python -m evolkit.testing.server ARGS`` for the duration of a ``with`` block.

    ``url`` is the base URL the child printed; :meth:`snapshot` and :meth:`reset_stats` talk to
    its ``/_fake/stats`` and ``/_fake/reset`` routes. Leaving the block sends SIGTERM and waits.
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        python: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.args = list(args)
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"ServerProcess({self._url or 'not started'})"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234/v1``."""
        if self._url is None:
            raise RuntimeError("ServerProcess is not running; use it in a `with` block")
        return self._url

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self._proc is None:
            raise RuntimeError("ServerProcess is not running")
        return self._proc.pid

    def start(self) -> None:
        """Start the child and wait until it prints its URL."""
        if self._proc is not None:
            raise RuntimeError("ServerProcess is already running")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [self.python, "-m", "evolkit.testing.server", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._proc = proc
        try:
            self._url = self._read_url(proc)
        except BaseException:
            self.stop()
            raise

    def _read_url(self, proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the fake server did not start within {self.startup_timeout} s"
                    )
                if selector.select(left):
                    line = proc.stdout.readline().strip()
                    if line.startswith("http"):
                        return line
                    if not line and proc.poll() is not None:
                        raise RuntimeError(
                            f"the fake server exited with code {proc.returncode} before starting"
                        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child and wait for it (SIGKILL after ``timeout`` seconds)."""
        proc, self._proc = self._proc, None
        self._url = None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

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
