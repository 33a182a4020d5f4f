"""Reading seed files and writing data sets.

Seeds are read from JSONL or a JSON array in any layout :mod:`evolkit.data.layouts` knows
(Alpaca, Self-Instruct, Dolly, ShareGPT, chat ``messages``, prompt/completion, question/answer,
``text``, evolkit's own rows), or plain text (one instruction a line). Data sets are written as
evolkit JSONL (Alpaca keys plus lineage), Alpaca JSON, chat ``messages`` or ShareGPT JSONL;
every format keeps the lineage, so reading back loses nothing. Every write is atomic: a
temporary file, fsync, then rename.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from evolkit._encoding import check_text_data, check_text_file, undecodable
from evolkit._types import Instruction
from evolkit.data.layouts import RowMapper
from evolkit.engine.preflight import check_input, read_pipe, refuse_directory
from evolkit.errors import ConfigError, SeedFileError

__all__ = [
    "FORMATS",
    "atomic_writer",
    "detect_format",
    "iter_jsonl",
    "read_instructions",
    "to_chat_record",
    "write_instructions",
    "write_jsonl",
]

Format = Literal["jsonl", "json", "text", "chat", "sharegpt"]
FORMATS: tuple[Format, ...] = ("jsonl", "json", "text", "chat", "sharegpt")
_LINEAGE_KEYS = ("id", "parent_id", "operator", "round", "metadata")


def iter_jsonl(
    path: str | os.PathLike[str],
    *,
    objects: bool = False,
    hint: str = "each line must be one JSON object",
) -> Iterator[tuple[int, Any]]:
    """Each non-blank line of a JSONL file as (line number, parsed value), streamed from disk.

    The one JSONL reader: seeds, a run's own files, reports, training and evaluation data all
    read through here. A line that is not JSON (or, with ``objects=True``, not a JSON object)
    raises :class:`SeedFileError` naming the file and line, with ``hint`` as the fix.
    """
    with Path(path).open(encoding="utf-8-sig") as fh:  # a UTF-8 byte-order mark is skipped
        try:
            yield from _jsonl_lines(str(path), fh, objects, hint)
        except UnicodeDecodeError:
            raise undecodable(path) from None


def _jsonl_lines(
    name: str, lines: Iterable[str], objects: bool, hint: str
) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedFileError(name, number, f"invalid JSON: {exc.msg}", hint) from None
        if objects and not isinstance(value, dict):
            raise SeedFileError(name, number, "each line must be a JSON object", hint)
        yield number, value


@functools.lru_cache(maxsize=1)
def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (read once)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _mode_for(target: Path) -> int:
    """A rewritten file keeps its mode; a new one gets the umask's (not mkstemp's 0600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return _new_file_mode()


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it into place
    with the mode an ordinary write would have given it."""
    target = Path(path)
    refuse_directory(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def detect_format(path: str | os.PathLike[str], head: str | None = None) -> Format:
    """``.jsonl``/``.ndjson`` JSONL and ``.json`` a JSON array, by extension; any other name by
    content: JSONL when the first non-blank line is a JSON object, a JSON array when the whole
    text is one, else text (one instruction a line). ``head`` is the text when it was read
    already (a pipe); otherwise the file is looked at."""
    suffix = Path(path).suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "json"
    text = head if head is not None else _first_text(Path(path))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        with contextlib.suppress(ValueError):
            if isinstance(json.loads(first), dict):
                return "jsonl"
    if first.startswith("["):
        whole = text if head is not None else Path(path).read_text(encoding="utf-8-sig")
        with contextlib.suppress(ValueError):
            if isinstance(json.loads(whole), list):
                return "json"
    return "text"


def _first_text(path: Path) -> str:
    """The file's first non-blank line ('' when unreadable: the reader reports why)."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            return next((line for line in fh if line.strip()), "")
    except (OSError, UnicodeDecodeError):
        return ""


def read_instructions(
    path: str | os.PathLike[str],
    format: Format | None = None,
    *,
    fields: Mapping[str, str] | Sequence[str] | None = None,
    layout: str | None = None,
    mapper: RowMapper | None = None,
    pipe_ok: bool = False,
) -> Iterator[Instruction]:
    """Yield the instructions of a file, one at a time (JSONL and text stream from disk).

    The format is found by :func:`detect_format` (extension, else content). Each JSON row's
    layout is found from its keys (see :mod:`evolkit.data.layouts`), or set by ``layout``;
    ``fields`` maps roles to keys (``{"instruction": "question"}``). A path that is not a
    regular file is refused (:func:`~evolkit.engine.preflight.check_input`), except a pipe
    with ``pipe_ok``, which is read once into memory. A malformed row raises
    :class:`SeedFileError` naming the file and line.
    """
    rows = mapper if mapper is not None else RowMapper(fields, layout)
    p = Path(path)
    name = str(path)
    if check_input(p, pipe_ok=pipe_ok):
        data = read_pipe(p)
        check_text_data(name, data)
        text: str | None = data.decode("utf-8-sig")
    else:
        check_text_file(p)
        text = None
    fmt = format or detect_format(p, text)
    if fmt == "json":
        yield from _json_array(name, text if text is not None else p, rows)
        return
    with contextlib.ExitStack() as stack:
        lines: Iterable[str] = (
            io.StringIO(text) if text is not None
            else stack.enter_context(p.open(encoding="utf-8-sig"))
        )  # fmt: skip
        if fmt == "text":
            for line in lines:
                if line.strip():
                    yield Instruction(text=line.rstrip("\n").strip())
            return
        for lineno, record in _jsonl_lines(name, lines, False, "each line must be one JSON object"):
            try:
                yield rows.instruction(record)
            except (ValueError, TypeError, KeyError) as exc:
                raise SeedFileError(name, lineno, str(exc)) from None


def _json_array(name: str, source: str | Path, rows: RowMapper) -> Iterator[Instruction]:
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedFileError(name, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise SeedFileError(
            name, 1, "expected a JSON array of objects", "use the Alpaca layout or JSONL"
        )
    for index, record in enumerate(data):
        try:
            yield rows.instruction(record)
        except (ValueError, TypeError, KeyError) as exc:
            raise SeedFileError(name, None, f"item {index}: {exc}") from None


def to_chat_record(instruction: Instruction, sharegpt: bool = False) -> dict[str, Any]:
    """A chat ``messages`` row (ShareGPT ``conversations`` with ``sharegpt``) with lineage;
    the user turn is :meth:`Instruction.user_message` (the input, if any, follows the
    instruction)."""
    turns = [("user", instruction.user_message())]
    if instruction.response is not None:
        turns.append(("assistant", instruction.response))
    record: dict[str, Any]
    if sharegpt:
        speaker = {"user": "human", "assistant": "gpt"}
        record = {"conversations": [{"from": speaker[r], "value": t} for r, t in turns]}
    else:
        record = {"messages": [{"role": r, "content": t} for r, t in turns]}
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
            elif format in ("chat", "sharegpt"):
                record = to_chat_record(inst, sharegpt=format == "sharegpt")
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                fh.write(json.dumps(inst.to_record(), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> Path:
    """Write one JSON line per record (non-ASCII kept), creating the folder; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target
