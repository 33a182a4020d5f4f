from __future__ import annotations

import json
import subprocess
import sys

import evolkit

HEAVY = [
    "litellm",
    "torch",
    "transformers",
    "rich",
    "matplotlib",
    "openai",
    "httpx",
    "aiohttp",
    "ray",
    "trl",
    "peft",
    "datasets",
    "importlib.metadata",
]


def test_import_is_light() -> None:
    code = (
        f"import evolkit, sys, json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []


def test_import_does_not_touch_litellm_env() -> None:
    code = "import os, evolkit; print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP', ''))"
    env = {k: v for k, v in __import__("os").environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert proc.stdout.strip() == ""


def test_public_api() -> None:
    for name in evolkit.__all__:
        assert hasattr(evolkit, name), name
    assert {"Instruction", "Verdict", "evolve", "aevolve", "hookimpl", "EvolkitError"} <= set(
        evolkit.__all__
    )
