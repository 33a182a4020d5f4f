"""Exports of a data set: Alpaca JSON, chat ``messages``, ShareGPT, evolkit JSONL, text, and a
Hugging Face data set directory (Parquet with fixed ``Features`` and a data set card).

Every export counts the rows without a response; ``require_response`` leaves them out.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import Instruction
from evolkit.data.card import RunInfo, hf_features, write_card
from evolkit.data.sources import remove_if_refused
from evolkit.engine.preflight import check_data_file, refuse_output_over_input
from evolkit.errors import ConfigError

__all__ = [
    "EXPORT_FORMATS",
    "ExportResult",
    "MissingResponseWarning",
    "export",
    "hf_features",
    "write_parquet",
]

EXPORT_FORMATS = ("alpaca", "chat", "sharegpt", "jsonl", "text", "hf")
_IO_FORMAT = {"alpaca": "json", "chat": "chat", "sharegpt": "sharegpt", "jsonl": "jsonl"}
_IO_FORMAT["text"] = "text"
PARQUET_FILE = "data/train-00000-of-00001.parquet"
_BATCH = 8192


class MissingResponseWarning(UserWarning):
    """Some exported rows have no response (a run with ``respond=False``, or failed answers)."""


@frozen
class ExportResult:
    """What an export wrote: rows written, rows without a response, rows left out."""

    path: Path
    format: str
    written: int
    without_response: int
    left_out: int

    def message(self) -> str | None:
        """The warning about rows without a response, or None when every row has one."""
        if self.left_out:
            return f"left out {self.left_out} rows without a response (--require-response)"
        if self.without_response:
            chat = "a user turn and no assistant turn"
            shape = {"chat": chat, "sharegpt": chat, "text": ""}
            written = shape.get(self.format, "output null")
            return (
                f"{self.without_response} of {self.written} rows have no response"
                + (f" (written with {written})" if written else "")
                + ": pass --require-response (require_response=True) to leave them out"
            )
        return None


class _Counted:
    """The rows, counting those without a response and leaving them out when asked."""

    def __init__(self, rows: Iterable[Instruction], require: bool) -> None:
        self.rows = rows
        self.require = require
        self.missing = 0
        self.written = 0

    def __iter__(self) -> Iterator[Instruction]:
        for row in self.rows:
            if row.response is None:
                self.missing += 1
                if self.require:
                    continue
            self.written += 1
            yield row


def _columns(batch: list[Instruction]) -> dict[str, list[Any]]:
    return {
        "id": [r.id for r in batch],
        "instruction": [r.text for r in batch],
        "input": [r.input for r in batch],
        "output": [r.response for r in batch],
        "parent_id": [r.parent_id for r in batch],
        "operator": [r.operator for r in batch],
        "round": [r.round for r in batch],
        "metadata": [json.dumps(dict(r.metadata), ensure_ascii=False) for r in batch],
    }


def write_parquet(path: Path, rows: Iterable[Instruction]) -> int:
    """Write ``rows`` to one Parquet file with :func:`hf_features` as its schema, a batch at a
    time, atomically; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evolkit.io import atomic_writer

    schema = hf_features().arrow_schema  # carries the Features, so datasets reads them back
    count = 0
    with atomic_writer(path, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
        batch: list[Instruction] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pydict(_columns(batch), schema=schema))
                count, batch = count + len(batch), []
        if batch or not count:
            writer.write_table(pa.Table.from_pydict(_columns(batch), schema=schema))
            count += len(batch)
    return count


def export(
    data: str | os.PathLike[str],
    target: str | os.PathLike[str],
    format: str,
    *,
    require_response: bool = False,
    license: str | None = None,
    warn: bool = True,
) -> ExportResult:
    """Export the data set at ``data`` (a run's output, or any file evolkit reads) to
    ``target`` in ``format`` (one of :data:`EXPORT_FORMATS`).

    ``hf`` writes a directory: ``data/train-00000-of-00001.parquet`` and a data set card
    ``README.md`` built from the run's report (``OUT.run.json``, ``OUT.evolkit/state.json``);
    ``license`` sets the card's licence (default: the seed data set's, when known).
    Rows without a response are counted (a :class:`MissingResponseWarning` when ``warn``) and
    left out with ``require_response``.
    """
    from evolkit.io import read_instructions, write_instructions

    if format not in EXPORT_FORMATS:
        raise ConfigError(
            f"unknown export format {format!r}: use one of {', '.join(EXPORT_FORMATS)}"
        )
    source, out = Path(data), Path(target)
    check_data_file(source)
    refuse_output_over_input(out, source)
    rows = _Counted(read_instructions(source), require_response)
    with remove_if_refused(out):
        if format == "hf":
            if out.exists() and not out.is_dir():
                raise ConfigError(f"{out} is a file: the hf format writes a directory")
            write_parquet(out / PARQUET_FILE, rows)
            info = RunInfo.load(source)
            write_card(
                out / "README.md",
                info,
                rows=rows.written,
                missing=rows.missing,
                left_out=require_response,
                license=license,
            )
        else:
            write_instructions(out, rows, _IO_FORMAT[format])  # type: ignore[arg-type]
    result = ExportResult(
        out, format, rows.written, rows.missing, rows.missing if require_response else 0
    )
    message = result.message()
    if warn and message and not require_response:
        warnings.warn(message, MissingResponseWarning, stacklevel=2)
    return result
