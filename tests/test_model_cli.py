"""The model settings every command that calls a model gives from the same flags are built in
one place (:mod:`evolkit.engine.model_cli`), and each command hands on what it was given."""

from __future__ import annotations

from typing import Any

import pytest

from evolkit.cli import build_parser
from evolkit.engine.model_cli import model_settings

FLAGS = ["--model", "openai/judge", "--api-base", "http://127.0.0.1:9/v1", "--timeout", "7"]
EXPECTED = {
    "model": "openai/judge",
    "model_params": {"api_base": "http://127.0.0.1:9/v1"},
    "cache": None,
    "concurrency": 3,
    "timeout": 7.0,
    "retries": 1,
}


class Handed(Exception):
    """Raised by the stand-in for the library call, with what it was given."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__()
        self.settings = settings


def _stand_in(*_args: Any, **settings: Any) -> Any:
    raise Handed(settings)


def test_without_an_endpoint_the_model_gets_no_parameters() -> None:
    args = build_parser().parse_args(["score", "out.jsonl", "--model", "openai/judge"])
    settings = model_settings(args)
    assert settings["model_params"] is None
    assert settings["cache"] is not None  # --cache default: the shared response cache


def test_score_hands_on_the_shared_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import evolkit.score
    from evolkit.score._cli import _score

    monkeypatch.setattr(evolkit.score, "score", _stand_in)
    argv = ["score", "out.jsonl", *FLAGS, "--concurrency", "3", "--retries", "1", "--rpm", "60"]
    args = build_parser().parse_args([*argv, "--cache", "off"])
    with pytest.raises(Handed) as handed:
        _score(args, None)
    assert handed.value.settings.items() >= {**EXPECTED, "rpm": 60.0, "tpm": None}.items()


def test_optimize_hands_on_the_shared_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import evolkit.auto
    from evolkit.auto._cli import run

    monkeypatch.setattr(evolkit.auto, "optimize", _stand_in)
    argv = ["optimize", "seeds.jsonl", "--dev", "dev.jsonl", "-o", "m.toml", *FLAGS]
    args = build_parser().parse_args(
        [*argv, "--concurrency", "3", "--retries", "1", "--cache", "off", "--structured", "auto"]
    )
    with pytest.raises(Handed) as handed:
        run(args)
    expected = {**EXPECTED, "steps": 3, "name": "auto", "structured": "auto"}
    assert handed.value.settings.items() >= expected.items()
