"""The run journal: every finished model call, written to disk as it completes.

A resumed run replays the journal: a request it holds is answered from disk and never sent
again. The journal is an SQLite database in WAL mode with ``synchronous=FULL``: each commit is
appended to the write-ahead log and fsync'd, and a crash (``kill -9`` included) loses at most
the calls whose commit had not returned. Commits are grouped: calls that finish together wait
for one shared commit instead of one each, so durability costs little at hundreds of calls per
second. Lookups go to disk, so memory does not grow with the number of calls.

Rows are never updated or deleted; ``seq`` records the order calls finished in, and the
absence of a repeated ``key`` shows that no call was made twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import ChatMessage, Completion

__all__ = ["CallSite", "Journal", "call_key", "request_key"]


def request_key(model: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> str:
    """The hash that identifies one request exactly: model, messages and parameters."""
    blob = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@frozen
class CallSite:
    """Where a call comes from: ``round``, the ``parent`` instruction's id, the ``stage``
    (``"mutate"``, ``"respond"``, ``"seed"``, ``"filter:<name>"``…) and the ``sample`` index
    (the n-th identical request made from that place)."""

    round: int
    parent: str
    stage: str
    sample: int = 0


def call_key(
    model: str,
    messages: Sequence[ChatMessage],
    params: Mapping[str, Any],
    run: str,
    site: CallSite | None,
) -> str:
    """The journal key of one call: the request (:func:`request_key`), the run's id and the
    :class:`CallSite`. Two calls share an answer only when all of them match."""
    where = None if site is None else [site.round, site.parent, site.stage, site.sample]
    blob = json.dumps(
        {"request": request_key(model, messages, params), "run": run, "site": where},
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    completion TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_key ON calls (key);
"""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


class Journal:
    """Completed calls by request key, durable on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _connect(path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(path)
        self._write_lock = threading.Lock()
        self._unflushed: dict[str, Completion] = {}
        self._pending: list[tuple[str, str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.replayed = len(self)

    def __len__(self) -> int:
        row = self._reader.execute("SELECT COUNT(*) FROM calls").fetchone()
        return int(row[0]) + len(self._unflushed)

    def get(self, key: str) -> Completion | None:
        pending = self._unflushed.get(key)
        if pending is not None:
            return pending
        row = self._reader.execute(
            "SELECT completion FROM calls WHERE key = ? ORDER BY seq LIMIT 1", (key,)
        ).fetchone()
        return Completion.from_json(json.loads(row[0])) if row else None

    def keys(self) -> list[str]:
        """Every journaled key in the order the calls finished (repeats would show twice)."""
        return [row[0] for row in self._reader.execute("SELECT key FROM calls ORDER BY seq")]

    async def append(self, key: str, completion: Completion) -> None:
        """Record a finished call; returns once it is on disk."""
        self._unflushed[key] = completion
        blob = json.dumps(completion.to_json(), ensure_ascii=False)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, blob, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._commit, [(k, b) for k, b, _ in batch])
            except BaseException as exc:
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue  # each waiting call has the error; the calls queued since still go
            for key, _, fut in batch:
                self._unflushed.pop(key, None)
                if not fut.done():
                    fut.set_result(None)

    def _commit(self, rows: list[tuple[str, str]]) -> None:
        with self._write_lock:
            self._writer.execute("BEGIN")
            self._writer.executemany("INSERT INTO calls (key, completion) VALUES (?, ?)", rows)
            self._writer.execute("COMMIT")

    async def aclose(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._reader.close()
        with self._write_lock:
            self._writer.close()
