"""Helpers for tests that run ``evolkit`` in child processes: serve it an HTTP handler on
loopback, start it, read its journal and state from outside, wait for a moment of its run, and
keep the machine busy meanwhile."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: What a stopped command must never print: a traceback, or asyncio's and Python's own reports.
LEAKS = ("Traceback", "Task exception was never retrieved", "Exception ignored", "Unclosed")

#: Kept busy by :func:`cpu_hog`: as many spinning processes as the machine has cores, at most 2.
HOG_PROCESSES = min(2, os.cpu_count() or 1)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request leaves a broken pipe: expected in these tests


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` answering on 127.0.0.1 and a free port, in a thread, for the block; yields
    the base URL a model client is given (``http://127.0.0.1:PORT/v1``)."""
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def spawn(
    args: Sequence[str], *, prelude: str = "", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``evolkit ARGS`` in a child, stdout and stderr piped; ``prelude`` is Python run in the
    child before the command line starts."""
    code = f"import sys\n{prelude}\nfrom evolkit.cli import main\nsys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def workdir(out: Path) -> Path:
    return out.with_name(out.name + ".evolkit")


def journaled(out: Path, name: str = "journal.sqlite") -> int:
    """Calls in the journal ``name`` of the run writing ``out`` (``filter-journal.sqlite`` for
    filter's); 0 before it exists or while it cannot be read yet."""
    path = workdir(out) / name
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    except sqlite3.Error:
        return 0


def completed_round(out: Path) -> int:
    """The last round the run's state records as finished (-1 before the first)."""
    try:
        state = json.loads((workdir(out) / "state.json").read_text())
    except (OSError, ValueError):
        return -1
    return int(state.get("completed_round", -1))


def handles_signals(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGINT and SIGTERM (Linux: /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt"))
    caught = int(mask, 16)
    wanted = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    return caught & wanted == wanted


def wait_for(check: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(step)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def cpu_hog(processes: int = HOG_PROCESSES) -> Iterator[list[Any]]:
    """Spinning child processes for the block, killed (by their pids) when it ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()
