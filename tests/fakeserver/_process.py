"""Run the fake server in a child process, so that client and server do not share a GIL."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from evolkit._child import ChildServer
from fakeserver._faults import ServerStats

__all__ = ["ServerProcess"]

#: The folder that holds this package, so that the child can import it wherever it starts.
HELPERS = str(Path(__file__).resolve().parents[1])


class ServerProcess(ChildServer):
    """``python -m fakeserver ARGS`` for the duration of a ``with`` block.

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
        return [self.python, "-m", "fakeserver", *self.args]

    def environment(self) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [HELPERS, os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}

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
