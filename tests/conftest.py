from __future__ import annotations

import os

import pytest

# Nothing in the tests may reach a network or a user's cache.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOLKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("EVOLKIT_MODEL", raising=False)
    monkeypatch.delenv("EVOLKIT_DISABLE_PLUGINS", raising=False)
