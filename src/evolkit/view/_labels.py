"""The user's labels of a run's rows: ``OUT.labels.jsonl``, append-only.

Each line is one :class:`Label` (``{"id", "label", "note", "at"}``); the last line for an id is
its label. A line is written whole, with one ``write`` on a file opened ``O_APPEND``, under a
file lock, so two browser tabs (or two servers) never interleave lines; a writer killed in the
middle leaves at most a torn last line, which the next writer closes with a newline and every
reader skips.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import attrs
from attrs import field, frozen
from filelock import FileLock

__all__ = ["LABELS", "Label", "LabelStore", "labels_path", "read_labels"]

LABELS = ("keep", "drop")
LabelValue = Literal["keep", "drop"]
_NOTE_LIMIT = 10_000


def labels_path(output: str | os.PathLike[str]) -> Path:
    """``OUT.labels.jsonl``, beside the data set ``output``."""
    out = Path(output)
    return out.with_name(out.name + ".labels.jsonl")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _label_value(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value not in LABELS:
        raise ValueError(f"label must be 'keep', 'drop' or null, not {value!r}")


def _row_id(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError("a label needs the id of a row")


def _short_note(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) > _NOTE_LIMIT:
        raise ValueError(f"a note is at most {_NOTE_LIMIT} characters")


@frozen(kw_only=True)
class Label:
    """A user's judgement of one row: keep, drop or none yet, with an optional note."""

    id: str = field(validator=_row_id)
    label: LabelValue | None = field(default=None, validator=_label_value)
    note: str = field(default="", validator=[attrs.validators.instance_of(str), _short_note])
    at: str = field(factory=_now, validator=attrs.validators.instance_of(str))

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "note": self.note, "at": self.at}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Label:
        return cls(
            id=record["id"],
            label=record.get("label"),
            note=record.get("note") or "",
            at=record.get("at") or "",
        )


def read_labels(path: Path) -> Iterator[Label]:
    """Every whole, valid line of a labels file, in file order (torn or foreign lines skipped)."""
    labels, _ = _read_from(path, 0)
    yield from labels


def _read_from(path: Path, offset: int) -> tuple[list[Label], int]:
    """The labels of the whole lines from byte ``offset`` on, and where the last one ends."""
    labels: list[Label] = []
    if not path.exists():
        return labels, 0
    with path.open("rb") as fh:
        fh.seek(offset)
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # a line a killed writer left unfinished (or one being written)
            offset += len(raw)
            try:
                record = json.loads(raw)
                if isinstance(record, dict):
                    labels.append(Label.from_record(record))
            except (ValueError, KeyError, TypeError):
                continue
    return labels, offset


class LabelStore:
    """The labels of one run: read once, then kept current as this process appends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")
        self._latest: dict[str, Label] = {}
        self._size = 0
        self.refresh()

    def reload(self) -> None:
        """Read the whole file again."""
        self._latest, self._size = {}, 0
        self.refresh()

    def refresh(self) -> None:
        """Read what was appended since the last read (by this or another process)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size < self._size:  # the file was replaced: read it from the start
            self._latest, self._size = {}, 0
        if size == self._size:
            return
        labels, self._size = _read_from(self.path, self._size)
        for label in labels:
            self._latest[label.id] = label

    def get(self, id: str) -> Label | None:
        return self._latest.get(id)

    def all(self) -> dict[str, Label]:
        """The current label of every labelled row."""
        return dict(self._latest)

    def append(self, label: Label) -> Label:
        """Write ``label`` as one whole line at the end of the file, then make it current."""
        line = (json.dumps(label.to_record(), ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if _ends_torn(self.path):
                    line = b"\n" + line
                written = os.write(fd, line)
                while written < len(line):  # a short write: finish the same line
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
            self.refresh()  # under the lock: what the other tabs wrote is current too
        return self._latest.get(label.id, label)


def _ends_torn(path: Path) -> bool:
    """Whether the file's last byte is not a newline (a writer was killed mid-line)."""
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb") as fh:
        fh.seek(size - 1)
        return fh.read(1) != b"\n"
