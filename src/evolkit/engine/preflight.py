"""Checks made before any model call, and disk errors turned into one clear line.

A run pays for model calls; what can be known to fail beforehand (an output path that is a
directory or cannot be written, a seed file that is not UTF-8 text) is checked first.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evolkit.errors import ConfigError, EvolkitError, SeedFileError

__all__ = ["DiskFullError", "check_output", "check_text_file", "disk_errors"]

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_CONVERT = "convert it to UTF-8, e.g. `iconv -f {enc} -t UTF-8 IN > OUT`"


class DiskFullError(EvolkitError):
    """The disk filled up while a run was writing; finished work is kept."""


def check_text_file(path: str | os.PathLike[str]) -> None:
    """Refuse a file that is not UTF-8 text (a UTF-8 byte-order mark is fine), in one line."""
    p = Path(path)
    if not p.is_file():
        return  # the reader reports a missing file
    with p.open("rb") as fh:
        head = fh.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                enc = name.split(" ")[0]
                raise SeedFileError(
                    str(p), None, f"the file is {name} encoded", _CONVERT.format(enc=enc)
                )
        fh.seek(0)
        offset, line = 0, 1
        decoder = codecs.getincrementaldecoder("utf-8")()
        for block in iter(lambda: fh.read(1 << 16), b""):
            if b"\x00" in block:
                raise SeedFileError(
                    str(p),
                    line + block[: block.index(b"\x00")].count(b"\n"),
                    "the file is binary (it holds NUL bytes), not text",
                    "pass a .jsonl, .json or text file",
                )
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                where = line + block[: exc.start].count(b"\n")
                raise SeedFileError(
                    str(p),
                    where,
                    f"not UTF-8 text (byte 0x{block[exc.start]:02x} at offset "
                    f"{offset + exc.start}; likely Latin-1 or Windows-1252)",
                    _CONVERT.format(enc="WINDOWS-1252"),
                ) from None
            offset += len(block)
            line += block.count(b"\n")


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


def check_output(output: Path, workdir: Path) -> None:
    """Refuse an output path that is a directory or that cannot be written."""
    if output.is_dir():
        raise ConfigError(
            f"output {output} is a directory: pass a file path such as {output / 'data.jsonl'}"
        )
    if output.exists() and not os.access(output, os.W_OK):
        raise ConfigError(f"output {output} is not writable: choose another output path")
    _probe_writable(output.parent if str(output.parent) else Path("."), "the output")
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
