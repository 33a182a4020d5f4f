"""One writer per output: a lock on the run's work directory, and stale temp files swept.

The lock is a :mod:`filelock` lock (``fcntl``/``msvcrt``), released by the kernel when the
holding process dies however it dies, so a ``kill -9`` never leaves a run locked out. The
holder's PID is written beside it so a second process can say who holds it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from evolkit.errors import ConfigError

__all__ = ["LOCK_FILES", "locked", "sweep_temp_files", "writing"]

#: Files of the lock itself, which clearing a work directory leaves in place.
LOCK_FILES = frozenset({"lock", "lock.pid"})


def _holder(pid_file: Path) -> str:
    try:
        pid = pid_file.read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"
    return f"process {pid}" if pid else "another process"


@contextlib.contextmanager
def locked(workdir: Path, output: Path | None) -> Iterator[None]:
    """Hold the lock of ``workdir`` for the block, or refuse at once naming the holder."""
    workdir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(workdir / "lock"), timeout=0)
    pid_file = workdir / "lock.pid"
    try:
        lock.acquire()
    except Timeout:
        target = output if output is not None else workdir
        raise ConfigError(
            f"{target} is being written by {_holder(pid_file)} (PID in {pid_file}): wait for it "
            "to finish or stop it, or pass another output path"
        ) from None
    try:
        pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            pid_file.write_text("", encoding="utf-8")
        lock.release()


def sweep_temp_files(workdir: Path, output: Path | None) -> int:
    """Remove temp files an interrupted run left (``.NAME.*.tmp``); returns how many."""
    folders = [workdir]
    if output is not None:
        folders.append(output.parent)
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        prefix = "." if folder == workdir else f".{output.name}" if output else "."
        for path in folder.glob(f"{prefix}*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def writing(workdir: Path, output: Path | None) -> Iterator[None]:
    """What every command that writes ``output`` with a work directory holds while it works
    (evolve, score, filter): a full disk or a read-only path as one line with the resume hint
    (:func:`~evolkit.engine.preflight.disk_errors`), one writer (:func:`locked`), and the temp
    files an interrupted run left swept."""
    from evolkit.engine.preflight import disk_errors

    with disk_errors(workdir), locked(workdir, output):
        sweep_temp_files(workdir, output)
        yield
