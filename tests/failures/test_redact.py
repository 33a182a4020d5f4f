"""Secrets never reach disk: keys and bearer tokens are masked in every stored error text."""

from __future__ import annotations

from pathlib import Path

import pytest

import evolkit
from evolkit.errors import ModelError
from evolkit.redact import redact
from evolkit.testing import FakeBackend


@pytest.mark.parametrize(
    "secret_text",
    [
        "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz",
        "header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abcdefgh",
        '{"api_key": "my-private-key-123"}',
        "token hf_abcdefghijklmnopqrstu rejected",
    ],
)
def test_redact_masks_keys_and_tokens(secret_text: str) -> None:
    masked = redact(secret_text)
    assert "[redacted]" in masked
    for secret in (
        "sk-proj-AbCdEf0123456789xyz",
        "eyJhbGciOiJIUzI1NiJ9.abcdefgh",
        "my-private-key-123",
        "hf_abcdefghijklmnopqrstu",
    ):
        assert secret not in masked


def test_a_secret_from_the_environment_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_TOKEN", "plainsecretvalue42")
    assert redact("refused plainsecretvalue42 here") == "refused [redacted] here"


def test_model_error_texts_in_the_drops_are_redacted(tmp_path: Path) -> None:
    def refuse(messages: object) -> ModelError:
        return ModelError("bad request for key sk-live-0123456789abcdef", kind="bad_request")

    out = tmp_path / "out.jsonl"
    evolkit.evolve(
        ["Plan a walk."],
        rounds=1,
        backend=FakeBackend(refuse),
        output=out,
        respond_seeds=False,
        max_failure_rate=1.0,
    )
    files = out.with_name(out.name + ".evolkit").glob("*")
    stored = "".join(p.read_bytes().decode("utf-8", "replace") for p in files)
    stored += out.with_name(out.name + ".run.json").read_text()
    assert "bad request for key [redacted]" in stored
    assert "sk-live-0123456789abcdef" not in stored
