"""Reading seed files and writing data sets.

Seeds are read from JSONL (Alpaca keys ``instruction``/``input``/``output``, a ``text`` key,
chat ``messages``, or evolkit's own rows), a JSON array (the Alpaca data file layout) or plain
text (one instruction a line). Data sets are written as evolkit JSONL (Alpaca keys plus
lineage), Alpaca JSON or chat ``messages`` JSONL; every format keeps the lineage, so reading
back loses nothing. Every write is atomic: a temporary file, fsync, then rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

from evolkit._encoding import check_text_file
from evolkit._types import Instruction
from evolkit.errors import ConfigError, SeedFileError

__all__ = [
    "FORMATS",
    "atomic_writer",
    "detect_format",
    "read_instructions",
    "to_chat_record",
    "write_instructions",
]

Format = Literal["jsonl", "json", "text", "chat"]
FORMATS: tuple[Format, ...] = ("jsonl", "json", "text", "chat")
_LINEAGE_KEYS = ("id", "parent_id", "operator", "round", "metadata")


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def detect_format(path: str | os.PathLike[str]) -> Format:
    """By extension: ``.jsonl``/``.ndjson`` JSONL, ``.json`` JSON array, anything else text."""
    suffix = Path(path).suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "json"
    return "text"


def _from_chat(record: Mapping[str, Any]) -> Instruction:
    messages = record["messages"]
    if not isinstance(messages, list):
        raise ValueError("'messages' must be a list")
    user = next((m for m in messages if m.get("role") == "user"), None)
    if user is None:
        raise ValueError("'messages' has no user message")
    assistant = next((m for m in messages if m.get("role") == "assistant"), None)
    row = {k: record[k] for k in _LINEAGE_KEYS if k in record}
    text = user.get("content")
    extra = record.get("input") or ""
    if extra and isinstance(text, str) and text.endswith("\n\n" + extra):
        text = text[: -len(extra) - 2]
    row["instruction"] = text
    row["input"] = extra
    if assistant is not None:
        row["output"] = assistant.get("content")
    return Instruction.from_record(row)


def _from_object(record: Any) -> Instruction:
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        return _from_chat(record)
    if "instruction" not in record and "text" not in record:
        raise ValueError("a row needs an 'instruction' (or 'text', or 'messages') key")
    return Instruction.from_record(record)


def read_instructions(
    path: str | os.PathLike[str], format: Format | None = None
) -> Iterator[Instruction]:
    """Yield the instructions of a file, one at a time (JSONL and text stream from disk).

    A malformed row raises :class:`SeedFileError` naming the file and line.
    """
    p = Path(path)
    fmt = format or detect_format(p)
    name = str(path)
    if not p.exists():
        raise SeedFileError(name, None, "file not found", "check the path")
    check_text_file(p)
    if fmt == "json":
        try:
            data = json.loads(p.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise SeedFileError(name, exc.lineno, f"invalid JSON: {exc.msg}") from None
        if not isinstance(data, list):
            raise SeedFileError(
                name, 1, "expected a JSON array of objects", "use the Alpaca layout or JSONL"
            )
        for index, record in enumerate(data):
            try:
                yield _from_object(record)
            except (ValueError, TypeError, KeyError) as exc:
                raise SeedFileError(name, None, f"item {index}: {exc}") from None
        return
    with p.open(encoding="utf-8-sig") as fh:  # a UTF-8 byte-order mark is skipped
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if fmt == "text":
                yield Instruction(text=line.rstrip("\n").strip())
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SeedFileError(
                    name, lineno, f"invalid JSON: {exc.msg}", "each line must be one JSON object"
                ) from None
            try:
                yield _from_object(record)
            except (ValueError, TypeError, KeyError) as exc:
                raise SeedFileError(name, lineno, str(exc)) from None


def to_chat_record(instruction: Instruction) -> dict[str, Any]:
    """A chat ``messages`` row with lineage; the input (if any) follows the instruction."""
    user = instruction.text
    if instruction.input:
        user = f"{instruction.text}\n\n{instruction.input}"
    messages = [{"role": "user", "content": user}]
    if instruction.response is not None:
        messages.append({"role": "assistant", "content": instruction.response})
    record: dict[str, Any] = {"messages": messages}
    if instruction.input:
        record["input"] = instruction.input
    full = instruction.to_record()
    record.update({k: full[k] for k in _LINEAGE_KEYS})
    return record


def write_instructions(
    path: str | os.PathLike[str], instructions: Iterable[Instruction], format: Format = "jsonl"
) -> int:
    """Write ``instructions`` atomically in ``format``; returns the number of rows."""
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    count = 0
    with atomic_writer(path) as fh:
        if format == "json":
            fh.write("[\n")
            for inst in instructions:
                if count:
                    fh.write(",\n")
                fh.write(json.dumps(inst.to_record(), ensure_ascii=False))
                count += 1
            fh.write("\n]\n")
            return count
        for inst in instructions:
            if format == "text":
                if "\n" in inst.text:
                    raise ConfigError(
                        f"instruction {inst.id} spans several lines; the text format cannot "
                        "hold it (use jsonl)"
                    )
                fh.write(inst.text + "\n")
            elif format == "chat":
                fh.write(json.dumps(to_chat_record(inst), ensure_ascii=False) + "\n")
            else:
                fh.write(json.dumps(inst.to_record(), ensure_ascii=False) + "\n")
            count += 1
    return count
