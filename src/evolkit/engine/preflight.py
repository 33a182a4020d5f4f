"""Checks made before any model call, and disk errors turned into one clear line.

A run pays for model calls; what can be known to fail beforehand (an output path that is a
directory or cannot be written, a seed file that is not UTF-8 text) is checked first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evolkit._types import Instruction
from evolkit.errors import ConfigError, EvolkitError, SeedFileError

__all__ = [
    "PIPE_WAIT_S",
    "DiskFullError",
    "check_data_file",
    "check_input",
    "check_output",
    "check_output_file",
    "check_size",
    "disk_errors",
    "oversize",
    "read_pipe",
    "refuse_directory",
    "refuse_output_over_input",
    "same_file",
]


class DiskFullError(EvolkitError):
    """The disk filled up while a run was writing; finished work is kept."""


#: Seconds a pipe given as input may stay without a writer before it is refused.
PIPE_WAIT_S = 10.0


def check_input(path: str | os.PathLike[str], *, pipe_ok: bool = False) -> bool:
    """Refuse an input that is not a readable regular file, by what it is, in one line: a
    missing file, a symlink loop, a directory, a socket or device, and a pipe (FIFO) unless
    ``pipe_ok`` (evolve's seeds: read once). Every command checks its input files with this
    before it opens them, so none hangs on a pipe nobody writes to. True for a pipe."""
    name = str(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SeedFileError(
                name, None, "the path is a symlink loop", "check the links"
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise SeedFileError(name, None, "file not found", "check the path") from None
        reason = exc.strerror or type(exc).__name__
        raise SeedFileError(name, None, f"cannot be read ({reason})", "check the path") from None
    if stat.S_ISDIR(mode):
        raise SeedFileError(name, None, "is a directory, not a file", "pass a file in it")
    if stat.S_ISFIFO(mode):
        if pipe_ok:
            return True
        raise SeedFileError(
            name, None, "is a pipe (FIFO); this command needs a regular file",
            "save the data to a file first",
        )  # fmt: skip
    if not stat.S_ISREG(mode):
        raise SeedFileError(
            name, None, "is not a regular file", "pass a .jsonl, .json or text file"
        )
    if not os.access(path, os.R_OK):
        raise SeedFileError(name, None, "cannot be read (permission denied)", "check its mode")
    return False


def check_data_file(
    path: str | os.PathLike[str], *, jsonl: bool = False, fix: str = "pass the data set a run wrote"
) -> None:
    """The input of a command that reads a data set (``filter``, ``export``, ``score``,
    ``select``, ``report``, ``stats``): a readable regular file (:func:`check_input`) holding
    at least one row, and with ``jsonl`` (readers that seek by line) not a JSON array; else
    one line."""
    check_input(path)
    name = str(path)
    first = b""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            first = block.removeprefix(b"\xef\xbb\xbf").lstrip()
            if first:
                break
    if not first:
        raise SeedFileError(name, None, "the file has no rows: it is empty", fix)
    if jsonl and first.startswith(b"["):
        raise SeedFileError(
            name,
            1,
            "the file is a JSON array, not JSONL (one row a line)",
            f"convert it: `evolkit export {name} ROWS.jsonl --format jsonl`",
        )


def read_pipe(path: str | os.PathLike[str], wait: float | None = None) -> bytes:
    """Everything written to the pipe at ``path``, read once; refused in one line when no
    writer has written to it within ``wait`` seconds (:data:`PIPE_WAIT_S`)."""
    limit = PIPE_WAIT_S if wait is None else wait
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening never waits for a writer
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(int(limit * 1000)):
            raise SeedFileError(
                str(path), None, f"is a pipe nothing was written to in {limit:g} s",
                "start the writer first, or pass a file",
            )  # fmt: skip
        os.set_blocking(fd, True)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def oversize(inst: Instruction, max_chars: int) -> str | None:
    """Why ``inst`` is too long to send to a model (text and input together over
    ``max_chars`` characters), or ``None``: the one size rule of seeds and scored rows."""
    size = len(inst.text) + len(inst.input)
    if size > max_chars:
        return f"the instruction is {size} characters, longer than {max_chars}"
    return None


def check_size(source: str, row: int, inst: Instruction, max_chars: int) -> None:
    """Refuse a seed longer than ``max_chars`` characters (:func:`oversize`)."""
    reason = oversize(inst, max_chars)
    if reason is not None:
        raise SeedFileError(source, row, reason, "shorten it, or raise --max-instruction-chars")


def _probe_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".evolkit-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot write {what} in {folder} ({reason}): choose another output path"
        ) from None


def refuse_directory(output: Path) -> None:
    """Refuse an output file path that names a directory."""
    if output.is_dir():
        raise ConfigError(
            f"output {output} is a directory: pass a file path such as {output / 'data.jsonl'}"
        )


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path (symlinks followed) or,
    for two files that exist, the same device and inode (a hard link)."""
    first, second = Path(a), Path(b)
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: a symlink loop
        if first.resolve() == second.resolve():
            return True
    try:
        one, other = first.stat(), second.stat()
    except (OSError, ValueError):
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def refuse_output_over_input(
    output: str | os.PathLike[str],
    *inputs: str | os.PathLike[str],
    fix: str = "choose another output path",
) -> None:
    """Refuse an output that is one of the command's inputs (by resolved path and inode):
    writing it would replace the data being read. Every command that writes a file checks
    its outputs with this before it reads or pays for anything."""
    for given in inputs:
        if same_file(output, given):
            raise ConfigError(
                f"output {output} is the input {given}: writing it would replace the data "
                f"being read; {fix}"
            )


def check_output_file(output: Path) -> None:
    """Refuse an output file path that is a directory or that cannot be written: a command
    that pays for model calls checks its outputs with this before it makes any."""
    refuse_directory(output)
    if output.exists() and not os.access(output, os.W_OK):
        raise ConfigError(f"output {output} is not writable: choose another output path")
    _probe_writable(output.parent if str(output.parent) else Path("."), "the output")


def check_output(output: Path, workdir: Path) -> None:
    """Refuse an output path or work directory that is a directory or cannot be written."""
    check_output_file(output)
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"{workdir} exists and is not a directory: remove it or pass another -o")
    _probe_writable(workdir, "the run's work directory")


_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


@contextlib.contextmanager
def disk_errors(where: Path) -> Iterator[None]:
    """Turn "no space left" and read-only errors while writing under ``where`` into one line."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise DiskFullError(
                f"the disk is full writing {where} ({exc.strerror}): free some space, then run "
                "the same command again to resume (finished calls are kept)"
            ) from None
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise ConfigError(
                f"cannot write {exc.filename or where} ({exc.strerror}): check permissions, "
                "then run the same command again to resume"
            ) from None
        raise
    except sqlite3.OperationalError as exc:
        if "full" in str(exc):
            raise DiskFullError(
                f"the disk is full writing {where} ({exc}): free some space, then run the same "
                "command again to resume (finished calls are kept)"
            ) from None
        raise
