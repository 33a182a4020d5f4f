"""Refuse a text file that is not UTF-8 in one line that names the encoding found."""

from __future__ import annotations

import codecs
import io
import os
from pathlib import Path
from typing import IO

from evolkit.errors import SeedFileError

__all__ = ["check_text_data", "check_text_file", "undecodable"]

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_CONVERT = "convert it to UTF-8, e.g. `iconv -f {enc} -t UTF-8 IN > OUT`"


def check_text_file(path: str | os.PathLike[str]) -> None:
    """Refuse a file that is not UTF-8 text (a UTF-8 byte-order mark is fine), in one line."""
    p = Path(path)
    if not p.is_file():
        return  # the reader reports a missing file
    with p.open("rb") as fh:
        _check_stream(str(p), fh)


def check_text_data(name: str, data: bytes) -> None:
    """:func:`check_text_file` for bytes already read (from a pipe), named ``name``."""
    _check_stream(name, io.BytesIO(data))


def _check_stream(name: str, fh: IO[bytes]) -> None:
    head = fh.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            enc = encoding.split(" ")[0]
            raise SeedFileError(
                name, None, f"the file is {encoding} encoded", _CONVERT.format(enc=enc)
            )
    fh.seek(0)
    offset, line = 0, 1
    decoder = codecs.getincrementaldecoder("utf-8")()
    for block in iter(lambda: fh.read(1 << 16), b""):
        if b"\x00" in block:
            raise SeedFileError(
                name,
                line + block[: block.index(b"\x00")].count(b"\n"),
                "the file is binary (it holds NUL bytes), not text",
                "pass a .jsonl, .json or text file",
            )
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            where = line + block[: exc.start].count(b"\n")
            raise SeedFileError(
                name,
                where,
                f"not UTF-8 text (byte 0x{block[exc.start]:02x} at offset "
                f"{offset + exc.start}; likely Latin-1 or Windows-1252)",
                _CONVERT.format(enc="WINDOWS-1252"),
            ) from None
        offset += len(block)
        line += block.count(b"\n")


def undecodable(path: str | os.PathLike[str]) -> SeedFileError:
    """The one-line error for a file a UTF-8 reader failed on: which encoding it holds.

    Readers call this only once decoding failed, so a good file is never read twice."""
    try:
        check_text_file(path)
    except SeedFileError as exc:
        return exc
    return SeedFileError(str(path), None, "not UTF-8 text", _CONVERT.format(enc="ENCODING"))
