"""A llama.cpp server in a child process, tied to the life of the evolkit process that starts it.

The parent runs ``python -m evolkit.backends._server --model FILE ...``. The child loads the
model with xllamacpp, which serves an OpenAI-compatible API on a free loopback port, prints one
JSON line ``{"address": "http://127.0.0.1:PORT"}`` on stdout, then waits. It exits:

* when its stdin reaches end of file: the parent closed it (:meth:`ServerProcess.stop`) or the
  parent died, however it died, since the kernel then closes the pipe;
* on Linux, also when the parent dies (``PR_SET_PDEATHSIG``), even if the pipe is inherited;
* on SIGTERM/SIGKILL from :meth:`ServerProcess.stop`.

It ignores SIGINT, so a Ctrl-C in the terminal reaches evolkit, which shuts the server down in
order instead of having in-flight requests fail mid-way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from evolkit.errors import BackendError

__all__ = ["ServerError", "ServerProcess", "main"]

_READY_KEY = "address"
_PR_SET_PDEATHSIG = 1


class ServerError(BackendError):
    """The local model server could not be started."""


# ---------------------------------------------------------------------------------------------
# Parent side


def _stop_process(
    proc: subprocess.Popen[bytes], grace: float, log: IO[bytes] | None = None
) -> None:
    """Stop ``proc``: close its stdin (it exits by itself), then SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for stream in (proc.stdin, proc.stdout, log):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass


class ServerProcess:
    """Starts and stops one model server child process (synchronous API, thread-safe)."""

    def __init__(
        self,
        model_path: Path,
        *,
        alias: str,
        parallel: int = 4,
        context: int = 4096,
        threads: int | None = None,
        startup_timeout: float = 300.0,
        command: Sequence[str] | None = None,
    ) -> None:
        """``context`` is the context length of each of the ``parallel`` slots.

        ``command`` replaces the child command line (tests use it to run a stand-in server).
        """
        self.model_path = model_path
        self.alias = alias
        self.parallel = parallel
        self.context = context
        self.threads = threads
        self.startup_timeout = startup_timeout
        self._command = list(command) if command is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.address: str | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        if self._command is not None:
            return list(self._command)
        cmd = [
            sys.executable,
            "-m",
            "evolkit.backends._server",
            "--model",
            str(self.model_path),
            "--alias",
            self.alias,
            "--parallel",
            str(self.parallel),
            "--context",
            str(self.context),
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def start(self) -> str:
        """Start the server (once) and return its base address, ``http://127.0.0.1:PORT``."""
        with self._lock:
            self._stopping.clear()
            if self.address is not None and self.running:
                return self.address
            if self._proc is not None:
                self._cleanup()
            # Kept open for the server's life (its stderr); closed by _cleanup / the finaliser.
            self._log = tempfile.TemporaryFile(prefix="evolkit-server-", suffix=".log")  # noqa: SIM115
            env = dict(os.environ)
            # llama.cpp's OpenMP threads spin while they wait; when the CPU is shared with
            # other work, spinning threads steal each other's time slices and decoding slows
            # down many times over (measured: 37 vs 1.7 tokens/s on a busy 2-core machine).
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                proc = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._log,
                    close_fds=True,
                    env=env,
                )
            except OSError as exc:
                self._cleanup()
                raise ServerError(f"cannot start the local model server: {exc}") from exc
            self._proc = proc
            # Stop the child at interpreter exit, or when this object is collected.
            self._finalizer = weakref.finalize(self, _stop_process, proc, 2.0, self._log)
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
                raise ServerError("the local model server was stopped while it was starting")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError(
                    f"the local model server did not start within {self.startup_timeout:.0f} s"
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
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and isinstance(message.get(_READY_KEY), str):
                return str(message[_READY_KEY])
            if isinstance(message, dict) and isinstance(message.get("error"), str):
                raise ServerError(f"the local model server failed: {message['error']}")
        proc.wait()
        raise ServerError(
            f"the local model server exited with status {proc.returncode} before it was ready"
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
            _stop_process(self._proc, 2.0, self._log)
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


# ---------------------------------------------------------------------------------------------
# Child side


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid and os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)

    def watch_stdin() -> None:
        # Raw reads on fd 0: a buffered read would hold a lock that breaks interpreter shutdown.
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, name="evolkit-parent-watch", daemon=True).start()


def _say(message: dict[str, str]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    try:
        import xllamacpp as xlc
    except ImportError as exc:
        _say({"error": f"xllamacpp is not installed ({exc}): pip install 'evolkit[local]'"})
        return 2
    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.n_parallel = args.parallel
    params.n_ctx = args.context * args.parallel
    params.cont_batching = True
    params.use_jinja = True
    params.ui = False
    params.endpoint_metrics = False
    params.cache_ram_mib = 512
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, chosen by the server
    try:
        server = xlc.Server(params)
    except Exception as exc:
        _say({"error": f"cannot load {args.model}: {exc}"})
        return 1
    _say({_READY_KEY: str(server.listening_address)})
    threading.Event().wait()  # until stdin closes, SIGTERM, or the parent dies
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evolkit.backends._server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="local")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(args.parent_pid)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
