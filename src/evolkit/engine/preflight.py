"""Checks made before any model call, and disk errors turned into one clear line.

A run pays for model calls; what can be known to fail beforehand (an output path that is a
directory or cannot be written, a seed file that is not UTF-8 text) is checked first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evolkit._types import Instruction
from evolkit.errors import ConfigError, EvolkitError, SeedFileError
from evolkit.io import refuse_directory

__all__ = [
    "DiskFullError",
    "check_output",
    "check_output_file",
    "check_size",
    "disk_errors",
    "refuse_directory",
]


class DiskFullError(EvolkitError):
    """The disk filled up while a run was writing; finished work is kept."""


def check_size(source: str, row: int, inst: Instruction, max_chars: int) -> None:
    """Refuse a seed longer than ``max_chars`` characters (text and input together)."""
    size = len(inst.text) + len(inst.input)
    if size > max_chars:
        raise SeedFileError(
            source,
            row,
            f"the instruction is {size} characters, longer than {max_chars}",
            "shorten it, or raise --max-instruction-chars",
        )


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
