"""A server in a child process: start it, wait for the line it prints when ready, stop it.

One helper for every child server evolkit starts: the llama.cpp server of the local backend
(:mod:`evolkit.backends._server`) and the fake OpenAI-compatible server of the tests
(`tests/fakeserver/_process.py`). A subclass gives the command line (:meth:`command`) and
reads the ready line (:meth:`ready_address`); this class does the rest:

* the child's stdout is read on a thread until the ready line, so a silent child cannot
  block the caller past ``startup_timeout``;
* its stderr goes to a temporary log whose last lines are quoted when it fails to start;
* stopping closes its stdin (a child that watches stdin exits by itself, see
  ``stdin_eof_stops``), then sends SIGTERM, then SIGKILL, each after a grace period;
* the child is stopped at interpreter exit or when this object is collected
  (``weakref.finalize``), and :meth:`stop` interrupts a :meth:`start` in another thread.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from typing import IO, Any, ClassVar

from evolkit.errors import BackendError

__all__ = ["ChildServer", "ServerError"]


class ServerError(BackendError):
    """A child server could not be started."""


def stop_process(
    proc: subprocess.Popen[bytes], grace: float, log: IO[bytes] | None = None, *, eof: bool = True
) -> None:
    """Stop ``proc``: close its stdin (with ``eof``, it exits by itself), SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        if eof:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for stream in (proc.stdin, proc.stdout, log):
        with contextlib.suppress(OSError):
            if stream is not None:
                stream.close()


class ChildServer:
    """Starts and stops one server child process (synchronous API, thread-safe)."""

    description: ClassVar[str] = "the server"
    """How errors name the server ("the local model server")."""
    stdin_eof_stops: ClassVar[bool] = True
    """Whether the child exits when its stdin closes; if not, stopping starts with SIGTERM."""
    grace: ClassVar[float] = 2.0
    """Seconds each stopping step waits before the next, harder one."""

    def __init__(self, *, startup_timeout: float = 300.0) -> None:
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.address: str | None = None

    def command(self) -> list[str]:
        """The child's command line."""
        raise TypeError(f"{type(self).__name__} does not say which command to run")

    def environment(self) -> Mapping[str, str]:
        """The child's environment (this process's, by default)."""
        return os.environ

    def ready_address(self, line: str) -> str | None:
        """The address in the child's stdout ``line`` if it says it is ready, else None.

        May raise :class:`ServerError` for a line that reports a failure.
        """
        raise TypeError(f"{type(self).__name__} does not say how its child reports ready")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the server (once) and return the address it printed."""
        with self._lock:
            self._stopping.clear()
            if self.address is not None and self.running:
                return self.address
            if self._proc is not None:
                self._cleanup()
            # Kept open for the server's life (its stderr); closed by _cleanup / the finaliser.
            self._log = tempfile.TemporaryFile(prefix="evolkit-server-", suffix=".log")  # noqa: SIM115
            try:
                proc = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._log,
                    close_fds=True,
                    env=dict(self.environment()),
                )
            except OSError as exc:
                self._cleanup()
                raise ServerError(f"cannot start {self.description}: {exc}") from exc
            self._proc = proc
            # Stop the child at interpreter exit, or when this object is collected.
            self._finalizer = weakref.finalize(
                self, stop_process, proc, self.grace, self._log, eof=self.stdin_eof_stops
            )
            try:
                self.address = self._wait_ready(proc)
            except BaseException:
                self._cleanup()
                raise
            return self.address

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> str:
        lines: queue.Queue[bytes] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(b"")

        threading.Thread(target=pump, name="evolkit-server-stdout", daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._stopping.is_set():
                raise ServerError(f"{self.description} was stopped while it was starting")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError(
                    f"{self.description} did not start within {self.startup_timeout:.0f} s"
                    f"{self._log_tail()}"
                )
            try:
                line = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if proc.poll() is not None and lines.empty():
                    break
                continue
            if not line:
                break
            address = self.ready_address(line.decode("utf-8", errors="replace").strip())
            if address is not None:
                return address
        proc.wait()
        raise ServerError(
            f"{self.description} exited with status {proc.returncode} before it was ready"
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 8) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            text = self._log.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
        return (" (server log: " + " | ".join(tail) + ")") if tail else ""

    def _cleanup(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # stops the process once; later calls do nothing
            self._finalizer = None
        elif self._proc is not None:
            stop_process(self._proc, self.grace, self._log, eof=self.stdin_eof_stops)
        self._proc = None
        self.address = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop the server and wait for it to exit. Safe to call more than once."""
        self._stopping.set()  # interrupts a start() waiting for the server in another thread
        with self._lock:
            self._cleanup()
