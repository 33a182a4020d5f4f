"""The run journal: every finished model call, appended and fsync'd as it completes.

A resumed run replays the journal: a request it holds is answered from disk and never sent
again. Appends are group-committed: concurrent calls wait for one shared ``fsync`` instead of
one each, so durability costs little even at hundreds of calls per second. A torn last line
(a crash mid-write) is ignored on load.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evolkit._types import ChatMessage, Completion

__all__ = ["Journal", "request_key"]


def request_key(model: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> str:
    """The hash that identifies one request exactly: model, messages and parameters."""
    blob = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Journal:
    """Append-only JSONL of ``{"key": ..., "completion": {...}}`` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: dict[str, Completion] = {}
        self.replayed = 0
        self._fd: int | None = None
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                    self._done[entry["key"]] = Completion.from_json(entry["completion"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn write at the end of a crashed run
        self.replayed = len(self._done)

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: str) -> Completion | None:
        return self._done.get(key)

    def keys(self) -> list[str]:
        return list(self._done)

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            # If the previous run died mid-line, start on a fresh line.
            size = os.fstat(self._fd).st_size
            if size:
                with self.path.open("rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        os.write(self._fd, b"\n")
        return self._fd

    async def append(self, key: str, completion: Completion) -> None:
        """Record a finished call; returns once it is on disk."""
        self._done[key] = completion
        line = json.dumps({"key": key, "completion": completion.to_json()}, ensure_ascii=False)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line.encode("utf-8") + b"\n", future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            data = b"".join(line for line, _ in batch)
            try:
                await asyncio.to_thread(self._write, data)
            except BaseException as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                raise
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    def _write(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    async def aclose(self) -> None:
        if self._flusher is not None:
            await self._flusher
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
