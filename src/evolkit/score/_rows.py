"""A JSONL data set read by byte offset: rows streamed in order or fetched by id or offset.

Only the offsets are held in memory (a dict of id to offset), so walking a row's lineage or
reading rows in a chosen order does not load the data set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from evolkit._encoding import undecodable
from evolkit._types import Instruction
from evolkit.engine.preflight import check_data_file
from evolkit.errors import SeedFileError

__all__ = ["RowFile"]


class RowFile:
    """The rows of an evolkit JSONL file, indexed by id; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        check_data_file(self.path, jsonl=True, fix="pass a data set (.jsonl)")
        self._handle: IO[bytes] = self.path.open("rb")
        self.offsets: dict[str, int] = {}
        self._order: list[int] = []
        try:
            self._index()
        except BaseException:
            self._handle.close()  # a file that cannot be read is not left open
            raise

    def _index(self) -> None:
        position = 0
        for number, line in enumerate(self._handle, 1):
            if line.strip():
                row = self._parse(line, number)
                self.offsets.setdefault(row.id, position)
                self._order.append(position)
            position += len(line)

    def _parse(self, line: bytes, number: int | None = None) -> Instruction:
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"a JSON {type(record).__name__}, not an object")
            return Instruction.from_record(record)
        except UnicodeDecodeError:
            raise undecodable(self.path) from None
        except (ValueError, TypeError) as exc:
            raise SeedFileError(
                str(self.path), number, f"not an evolkit row: {exc}", "pass a data set (.jsonl)"
            ) from None

    def __len__(self) -> int:
        return len(self._order)

    def at(self, offset: int) -> Instruction:
        """The row that starts at byte ``offset``."""
        self._handle.seek(offset)
        return self._parse(self._handle.readline())

    def get(self, row_id: str) -> Instruction | None:
        offset = self.offsets.get(row_id)
        return None if offset is None else self.at(offset)

    def __iter__(self) -> Iterator[Instruction]:
        for offset in self._order:
            yield self.at(offset)

    def ordered_offsets(self) -> list[int]:
        """The byte offset of every row, in file order."""
        return list(self._order)

    def ancestors(self, row: Instruction) -> tuple[Instruction, ...]:
        """The row's ancestors in this file, seed first (a missing parent ends the chain)."""
        chain: list[Instruction] = []
        seen = {row.id}
        parent_id = row.parent_id
        while parent_id is not None and parent_id not in seen:
            parent = self.get(parent_id)
            if parent is None:
                break
            chain.append(parent)
            seen.add(parent.id)
            parent_id = parent.parent_id
        return tuple(reversed(chain))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RowFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
