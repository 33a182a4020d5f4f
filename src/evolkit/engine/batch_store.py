"""Which provider batches a run submitted, kept in the run journal's database.

Two tables sit next to the journal's ``calls`` (which they never touch): ``batch_jobs``, one
row per uploaded input file with the provider's batch id once the batch exists, and
``batch_requests``, which journal keys each file holds and, once collected, how each ended.
Every row is committed (``synchronous=FULL``) before the run waits on the provider, so a run
killed at any moment finds on restart every batch it paid for.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from attrs import frozen

from evolkit.errors import ModelError

__all__ = ["BatchStore", "StoredJob"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    file_id TEXT PRIMARY KEY,
    batch_id TEXT,
    status TEXT NOT NULL,
    requests INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    submitted REAL NOT NULL,
    collected INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batch_requests (
    key TEXT NOT NULL,
    file_id TEXT NOT NULL,
    outcome TEXT,
    PRIMARY KEY (key, file_id)
);
CREATE INDEX IF NOT EXISTS batch_requests_key ON batch_requests (key);
"""

#: ``batch_requests.outcome`` of a request that was answered (its completion is in ``calls``).
OK = "ok"


@frozen
class StoredJob:
    """A submitted input file not yet collected: its batch (if created) and its keys."""

    file_id: str
    batch_id: str | None
    status: str
    keys: tuple[str, ...]
    submitted: float


def _error_json(error: ModelError) -> str:
    return json.dumps(
        {
            "message": str(error),
            "kind": error.kind,
            "retryable": error.retryable,
            "status": error.status,
        }
    )


def _error_from_json(text: str) -> ModelError:
    data = json.loads(text)
    return ModelError(
        data["message"],
        kind=data["kind"],
        retryable=bool(data["retryable"]),
        status=data.get("status"),
    )


class BatchStore:
    """The batch tables of the journal database at ``path``."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(
        self, statements: Sequence[tuple[str, Sequence[object] | Sequence[Sequence[object]]]]
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for sql, args in statements:
                    if args and isinstance(args[0], (list, tuple)):
                        self._db.executemany(sql, args)  # type: ignore[arg-type]
                    else:
                        self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def record_upload(self, file_id: str, keys: Sequence[str], nbytes: int) -> None:
        """An input file holding ``keys`` was uploaded (before any batch is started over it)."""
        await asyncio.to_thread(
            self._write,
            [
                (
                    "INSERT INTO batch_jobs (file_id, status, requests, bytes, submitted) "
                    "VALUES (?, 'uploaded', ?, ?, ?)",
                    (file_id, len(keys), nbytes, time.time()),
                ),
                (
                    "INSERT OR IGNORE INTO batch_requests (key, file_id) VALUES (?, ?)",
                    [(key, file_id) for key in keys],
                ),
            ],
        )

    async def record_batch(self, file_id: str, batch_id: str, status: str) -> None:
        await asyncio.to_thread(
            self._write,
            [
                (
                    "UPDATE batch_jobs SET batch_id = ?, status = ? WHERE file_id = ?",
                    (batch_id, status, file_id),
                )
            ],
        )

    async def record_status(self, file_id: str, status: str) -> None:
        await asyncio.to_thread(
            self._write, [("UPDATE batch_jobs SET status = ? WHERE file_id = ?", (status, file_id))]
        )

    async def record_collected(
        self, file_id: str, status: str, outcomes: Mapping[str, ModelError | None]
    ) -> None:
        """How each request of a finished batch ended (``None``: answered and journaled)."""
        rows = [
            (OK if error is None else _error_json(error), key, file_id)
            for key, error in outcomes.items()
        ]
        statements: list[tuple[str, Sequence[object] | Sequence[Sequence[object]]]] = [
            ("UPDATE batch_jobs SET status = ?, collected = 1 WHERE file_id = ?", (status, file_id))
        ]
        if rows:
            statements.append(
                ("UPDATE batch_requests SET outcome = ? WHERE key = ? AND file_id = ?", rows)
            )
        await asyncio.to_thread(self._write, statements)

    def open_jobs(self) -> list[StoredJob]:
        """Submitted files whose batches were not collected yet, oldest first."""
        with self._lock:
            jobs = self._db.execute(
                "SELECT file_id, batch_id, status, submitted FROM batch_jobs "
                "WHERE collected = 0 ORDER BY submitted"
            ).fetchall()
            out = []
            for file_id, batch_id, status, submitted in jobs:
                keys = self._db.execute(
                    "SELECT key FROM batch_requests WHERE file_id = ? ORDER BY rowid", (file_id,)
                ).fetchall()
                out.append(
                    StoredJob(file_id, batch_id, status, tuple(k for (k,) in keys), submitted)
                )
        return out

    def history(self, key: str) -> tuple[int, ModelError | None]:
        """How many times ``key`` was submitted, and the error its last collected try ended with."""
        with self._lock:
            rows = self._db.execute(
                "SELECT outcome FROM batch_requests WHERE key = ? ORDER BY rowid", (key,)
            ).fetchall()
        last = next((outcome for (outcome,) in reversed(rows) if outcome is not None), None)
        error = _error_from_json(last) if last is not None and last != OK else None
        return len(rows), error

    def counts(self) -> dict[str, int]:
        """Batches and requests submitted so far (for the run report)."""
        with self._lock:
            jobs = self._db.execute(
                "SELECT COUNT(*) FROM batch_jobs WHERE batch_id IS NOT NULL"
            ).fetchone()
            reqs = self._db.execute("SELECT COUNT(*) FROM batch_requests").fetchone()
            retried = self._db.execute(
                "SELECT COUNT(*) FROM "
                "(SELECT key FROM batch_requests GROUP BY key HAVING COUNT(*) > 1)"
            ).fetchone()
        return {
            "batches": int(jobs[0]),
            "requests": int(reqs[0]),
            "resubmitted_keys": int(retried[0]),
        }
