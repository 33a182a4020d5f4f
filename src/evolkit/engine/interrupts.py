"""Ctrl-C and SIGTERM: the signal asks the run to stop; the run stops itself, cleanly.

While the command line runs a command (:func:`handle_interrupts`), SIGINT and SIGTERM go to
one handler, and that handler never raises inside a task:

* while :func:`evolkit.engine._loop.run_sync` runs a coroutine in the main thread, the first
  signal cancels that run's main task from the event loop (``call_soon_threadsafe``). Every
  ``finally`` and ``async with`` of the run then executes: pending journal commits are
  awaited, backends and files close, :class:`asyncio.Runner` cancels and awaits whatever tasks
  are left, and ``run_sync`` raises ``KeyboardInterrupt``. It does so even when the run
  finished in the meantime, so a signal always ends the command the same way;
* in synchronous code (start-up, reading seeds, writing an output outside the loop) the first
  signal raises ``KeyboardInterrupt`` where the program is, as Python's own Ctrl-C does;
* a second signal while stopping ends the process at once, with the same one line and exit
  status 130. Nothing journaled is lost: each journal commit is on disk when it returns
  (journal.py), and the next run sweeps the temporary files left behind (lock.py).

The command line prints :data:`INTERRUPTED` once (:meth:`Interrupts.announce`) and exits 130
for both signals. Without :func:`handle_interrupts` (the Python API in a script),
``run_sync`` is :func:`asyncio.run`, whose own Ctrl-C handling cancels the main task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["INTERRUPTED", "Interrupts", "handle_interrupts", "reclaim_signals", "run_main"]

T = TypeVar("T")

INTERRUPTED = "interrupted: finished calls are saved; run the same command again to resume"
INTERRUPTED_STATUS = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Runner310:
    """The part of :class:`asyncio.Runner` (Python 3.11+) used here, for Python 3.10."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

    def __enter__(self) -> _Runner310:
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = self._loop
        try:  # as asyncio.run ends: cancel and await what is left, then the executor
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)


def _runner() -> Any:
    if sys.version_info >= (3, 11):
        return asyncio.Runner()
    return _Runner310()


class Interrupts:
    """The signal state of one command: what was received, and the run it must stop."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.announced = False
        self._running = False  # run_main is between its start and its loop's close
        self._hit = False  # a signal arrived during this run_main
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    @property
    def requested(self) -> bool:
        """Whether a signal asked the command to stop."""
        return self.signum is not None

    def announce(self) -> int:
        """Print :data:`INTERRUPTED` to stderr (once) and return the exit status."""
        if not self.announced:
            print(INTERRUPTED, file=sys.stderr, flush=True)
            self.announced = True
        return INTERRUPTED_STATUS

    def on_signal(self, signum: int, frame: Any) -> None:
        """The handler of both signals: ask once, end at once the second time."""
        if self.signum is not None:
            if not self.announced:  # straight to the file: the signal may come mid-print
                os.write(2, (INTERRUPTED + "\n").encode())
            os._exit(INTERRUPTED_STATUS)
        self.signum = signum
        if not self._running:
            raise KeyboardInterrupt
        self._hit = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: run_main checks _hit
                loop.call_soon_threadsafe(self._cancel_main)

    def _cancel_main(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _main(self, coro: Coroutine[Any, Any, T]) -> T:
        self._task = asyncio.current_task()
        if self._hit:  # the signal came before this task began
            coro.close()
            raise asyncio.CancelledError
        return await coro

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on a new loop in this thread; a signal meanwhile stops it cleanly."""
        self._running, self._hit = True, False
        try:
            with _runner() as runner:
                self._loop = runner.get_loop()
                try:
                    result = runner.run(self._main(coro))
                except BaseException:
                    if self._hit:  # the cancellation, or an error it turned into
                        raise KeyboardInterrupt from None
                    raise
        finally:
            self._running, self._loop, self._task = False, None, None
        if self._hit:  # the signal came after the run's last step
            raise KeyboardInterrupt
        return result  # type: ignore[no-any-return]


_active: Interrupts | None = None


def run_main(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion in this thread (no loop runs here): with the command line's
    signal handling inside :func:`handle_interrupts`, else as :func:`asyncio.run` does."""
    if _active is None or threading.current_thread() is not threading.main_thread():
        return asyncio.run(coro)
    return _active.run(coro)


def reclaim_signals() -> None:
    """Put the command line's handler back after a library replaced it (``ray.init`` sets its
    own SIGTERM handler)."""
    if _active is not None and threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, _active.on_signal)


@contextlib.contextmanager
def handle_interrupts(*, last: bool = False) -> Iterator[Interrupts]:
    """Handle SIGINT and SIGTERM as described above for the block (main thread only).

    After a signal the handler stays installed, so that one more signal while the process
    exits ends it quietly with status 130 instead of a traceback. With ``last`` (the block is
    the process's last work: the ``evolkit`` command), both signals are ignored after a block
    that ended without one: the command has done its job, and a signal while the interpreter
    exits would otherwise kill it with no word (Python gives SIGINT back to the system's
    default action as it finalises).
    """
    global _active
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return
    previous = {signum: signal.signal(signum, interrupts.on_signal) for signum in SIGNALS}
    outer, _active = _active, interrupts
    try:
        yield interrupts
    finally:
        _active = outer
        if not interrupts.requested:
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_IGN if last else handler)
