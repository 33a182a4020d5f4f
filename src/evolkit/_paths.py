"""Where evolkit keeps its per-user files (the response cache, assembled model weights)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "user_cache_dir"]

#: Overrides the per-user cache folder.
CACHE_ENV = "EVOLKIT_CACHE_DIR"


def user_cache_dir() -> Path:
    """``$EVOLKIT_CACHE_DIR``, else the platform's user cache folder for evolkit
    (``$XDG_CACHE_HOME/evolkit``, default ``~/.cache/evolkit``; ``~/Library/Caches/evolkit`` on
    macOS; ``%LOCALAPPDATA%\\evolkit\\Cache`` on Windows), as platformdirs finds it."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("evolkit", appauthor=False))
