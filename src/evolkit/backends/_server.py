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

The parent side is :class:`evolkit._child.ChildServer`, shared with the tests' servers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from evolkit._child import ChildServer, ServerError

__all__ = ["ServerError", "ServerProcess", "main"]

_READY_KEY = "address"
_PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------------------------------------
# Parent side


class ServerProcess(ChildServer):
    """Starts and stops one llama.cpp server child process (synchronous API, thread-safe)."""

    description = "the local model server"

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
        super().__init__(startup_timeout=startup_timeout)
        self.model_path = model_path
        self.alias = alias
        self.parallel = parallel
        self.context = context
        self.threads = threads
        self._command = list(command) if command is not None else None

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

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # llama.cpp's OpenMP threads spin while they wait; when the CPU is shared with
        # other work, spinning threads steal each other's time slices and decoding slows
        # down many times over (measured: 37 vs 1.7 tokens/s on a busy 2-core machine).
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    def ready_address(self, line: str) -> str | None:
        """The address of a ``{"address": ...}`` line; a ``{"error": ...}`` line raises."""
        try:
            message = json.loads(line)
        except ValueError:
            return None
        if isinstance(message, dict) and isinstance(message.get(_READY_KEY), str):
            return str(message[_READY_KEY])
        if isinstance(message, dict) and isinstance(message.get("error"), str):
            raise ServerError(f"the local model server failed: {message['error']}")
        return None


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
