"""The local backend under concurrency: one server per model, and a model that cannot start.

The server is the stand-in of ``tests/test_local_backend.py`` (a small OpenAI-compatible HTTP
server in a child process), started through the real :class:`ServerProcess` start path; only
llama.cpp is replaced.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evolkit.backends import local as local_mod
from evolkit.backends._server import ServerProcess
from evolkit.cli import main


def _local_backend_tests() -> ModuleType:
    """The helpers of ``tests/test_local_backend.py`` (GGUF writer, stand-in server script)."""
    path = Path(__file__).parents[1] / "test_local_backend.py"
    spec = importlib.util.spec_from_file_location("_local_backend_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HELPERS = _local_backend_tests()


@pytest.fixture
def chat_gguf(tmp_path: Path) -> Path:
    path: Path = HELPERS.write_gguf(
        tmp_path / "tiny-chat.gguf",
        {"general.name": "tiny chat", "tokenizer.chat_template": HELPERS.TEMPLATE},
    )
    return path


def _standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> list[ServerProcess]:
    script = tmp_path / "standin_server.py"
    script.write_text(HELPERS.STANDIN)
    started: list[ServerProcess] = []

    class Standin(ServerProcess):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

        def command(self) -> list[str]:
            return [sys.executable, str(script), mode, str(os.getpid())]

    monkeypatch.setattr(local_mod, "ServerProcess", Standin)
    monkeypatch.setattr(local_mod, "_runtime_installed", lambda: True)
    real_check = local_mod.require_chat_template

    def slow_check(path: Path) -> str:
        time.sleep(0.3)  # reading a real model's header takes time: calls arrive meanwhile
        return str(real_check(path))

    monkeypatch.setattr(local_mod, "require_chat_template", slow_check)
    return started


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ServerProcess]]:
    started = _standin(tmp_path, monkeypatch, "ok")
    yield started
    for server in started:
        server.stop()


def test_eval_with_a_local_model_at_concurrency_16_starts_one_server(
    chat_gguf: Path,
    gsm8k_file: Path,
    servers: list[ServerProcess],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "eval",
        "gsm8k",
        "--model",
        f"local/{chat_gguf}",
        "--backend",
        "litellm",
        "--data",
        str(gsm8k_file),
        "--num-fewshot",
        "0",
        "--concurrency",
        "16",
    ]
    code = main(argv)
    assert code == 0, capsys.readouterr().err
    assert len(servers) == 1
    assert "accuracy" in capsys.readouterr().out.lower()


def test_a_local_model_that_cannot_start_stops_the_run_in_seconds(
    chat_gguf: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = _standin(tmp_path, monkeypatch, "crash")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"Describe bird number {i}.\n" for i in range(20)))
    out = tmp_path / "out.jsonl"
    argv = [
        "evolve",
        str(seeds),
        "-o",
        str(out),
        "--model",
        f"local/{chat_gguf}",
        "--concurrency",
        "16",
        "--rounds",
        "1",
        "-q",
    ]
    capsys.readouterr()
    start = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - start
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "local model server exited with status 3" in err[0]
    assert "bad magic" in err[0]  # the server's own words
    assert len(started) == 1  # one attempt, not one per waiting call
    assert elapsed < 30
    assert not out.exists()
