"""A response cache on disk, shared across runs, keyed by the exact request.

SQLite in WAL mode; reads and writes run in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

from evolkit._types import Completion

__all__ = ["ResponseCache", "default_cache_path"]


def default_cache_path() -> Path:
    """``responses.sqlite`` in the user cache folder (see :func:`evolkit._paths.user_cache_dir`:
    ``$EVOLKIT_CACHE_DIR``, else ``~/.cache/evolkit`` or the platform's own)."""
    from evolkit._paths import user_cache_dir

    return user_cache_dir() / "responses.sqlite"


class ResponseCache:
    """``get``/``put`` of completions by request key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
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

    async def get(self, key: str) -> Completion | None:
        return await asyncio.to_thread(self._get, key)

    async def put(self, key: str, completion: Completion) -> None:
        await asyncio.to_thread(self._put, key, completion)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
