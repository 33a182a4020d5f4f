from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Properties are checked for what they hold, never for how fast: a shared, loaded machine must
# not turn a slow example into a failure (speed is measured by the scripts in benchmarks/).
settings.register_profile("evolkit", deadline=None)
settings.load_profile("evolkit")

# Nothing in the tests may reach a network or a user's cache.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The helpers beside the tests (the fake server, ``python -m fakeserver``) import in child
# processes too, as they do here through pyproject's ``pythonpath``.
HELPERS = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [HELPERS, os.environ.get("PYTHONPATH")]))


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOLKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("EVOLKIT_MODEL", raising=False)
    monkeypatch.delenv("EVOLKIT_DISABLE_PLUGINS", raising=False)
