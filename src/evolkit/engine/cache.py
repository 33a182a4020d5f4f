"""A response cache on disk, shared across runs: off unless asked for, in the CLI and the API.

Keys are the run journal's keys (the request, the run's settings and the call's site: round,
parent, stage, sample), so a reply is reused only by a run that would make exactly that call:
another ``--seed``, other seeds or a second sample never share an answer. The cache holds at
most ``max_entries`` replies; the oldest writes go first. SQLite in WAL mode; reads and writes
run in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from evolkit._protocols import Backend, ScopedBackend
from evolkit._types import Completion
from evolkit.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "ResponseCache",
    "default_cache_path",
    "scope_digest",
    "scoped_cache",
]

#: Replies a cache keeps by default (about 1 GB at 5 kB a reply).
DEFAULT_MAX_ENTRIES = 200_000
_PRUNE_EVERY = 1000


def default_cache_path() -> Path:
    """``responses.sqlite`` in the user cache folder (see :func:`evolkit._paths.user_cache_dir`:
    ``$EVOLKIT_CACHE_DIR``, else ``~/.cache/evolkit`` or the platform's own)."""
    from evolkit._paths import user_cache_dir

    return user_cache_dir() / "responses.sqlite"


def cache_path(choice: str) -> Path | None:
    """The cache a ``--cache`` option names: ``off`` (none), ``default``
    (:func:`default_cache_path`) or a file."""
    if choice == "off":
        return None
    return default_cache_path() if choice == "default" else Path(choice)


class ResponseCache:
    """``get``/``put`` of completions by request key."""

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self.scope = ""  # see scoped_cache
        self._puts = 0
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the response cache {path} ({exc}): pass a file path to --cache, "
                "or --cache off"
            ) from None
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"
        )

    def _get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT completion FROM responses WHERE key = ?", (key,)
            ).fetchone()
        return Completion.from_json(json.loads(row[0])) if row else None

    def _put(self, key: str, completion: Completion) -> None:
        blob = json.dumps(completion.to_json(), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)", (key, blob)
            )
            self._puts += 1
            if self._puts % _PRUNE_EVERY == 1 or self.max_entries < _PRUNE_EVERY:
                self._prune()

    def _prune(self) -> None:
        """Delete the oldest writes beyond ``max_entries`` (caller holds the lock)."""
        count = int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        if count > self.max_entries:
            self._db.execute(
                "DELETE FROM responses WHERE rowid IN "
                "(SELECT rowid FROM responses ORDER BY rowid LIMIT ?)",
                (count - self.max_entries,),
            )

    def _scoped(self, key: str) -> str:
        if not self.scope:
            return key
        return hashlib.sha256(f"{self.scope}:{key}".encode()).hexdigest()

    async def get(self, key: str) -> Completion | None:
        return await asyncio.to_thread(self._get, self._scoped(key))

    async def put(self, key: str, completion: Completion) -> None:
        await asyncio.to_thread(self._put, self._scoped(key), completion)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def reply_scope(backend: Backend) -> dict[str, Any]:
    """What outside a request can change its reply: the model and, for a
    :class:`~evolkit._protocols.ScopedBackend`, its server and backend-wide parameters."""
    scope: dict[str, Any] = {"model": backend.model}
    if isinstance(backend, ScopedBackend):
        scope["backend"] = dict(backend.reply_scope())
    return scope


def scope_digest(backend: Backend) -> str:
    """A short digest of :func:`reply_scope`."""
    blob = json.dumps(reply_scope(backend), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def scoped_cache(cache: ResponseCache | None, backend: Backend) -> ResponseCache | None:
    """``cache`` keyed also by :func:`reply_scope` of ``backend`` (the journal key already
    holds the messages and call parameters): a reply from one server, or made with other
    backend parameters, is never reused for another. Every runner's cache goes through here."""
    if cache is not None:
        cache.scope = scope_digest(backend)
    return cache
