"""Secrets never reach disk: keys and bearer tokens are masked in every stored error text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def stored_text(folder: Path) -> str:
    """Every file the run wrote under ``folder``, as text (binary ones such as the journal
    included); the router config the test wrote is left out."""
    paths = [p for p in folder.rglob("*") if p.is_file() and p.name != "router.toml"]
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in paths)


@pytest.mark.parametrize("given", ["environment", "model_params", "router"])
def test_a_key_of_any_shape_given_to_the_run_is_masked_everywhere(
    given: str,
    tmp_path: Path,
    server: Any,
    cli: Any,
    evolve_argv: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "tok1234"  # no provider's shape, shorter than 8 characters
    server.echo_key_status = 400  # every call refused with a message that repeats the key
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Plan a walk.\nName a bird.\n")
    out = tmp_path / "out.jsonl"
    if given == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", key)
        _, err, _ = cli([*evolve_argv(seeds, out, server.url), "--max-failure-rate", "1"])
        printed = "\n".join(err)
    elif given == "model_params":
        monkeypatch.setenv("OPENAI_API_KEY", "unused-env-value")
        result = evolkit.evolve(
            seeds, rounds=1, model="openai/known", output=out, max_failure_rate=1.0,
            model_params={"api_base": server.url, "api_key": key},
        )  # fmt: skip
        printed = str(dict(result.stats.failure_examples)) + capsys.readouterr().err
    else:
        monkeypatch.setenv("OPENAI_API_KEY", "unused-env-value")
        router = tmp_path / "router.toml"
        router.write_text(
            '[[model_list]]\nmodel_name = "known"\n'
            f'litellm_params = {{ model = "openai/known", api_base = "{server.url}", '
            f'api_key = "{key}" }}\n'
        )
        argv = ["evolve", str(seeds), "-o", str(out), "--router-config", str(router), "-q"]
        _, err, _ = cli([*argv, "--rounds", "1", "--max-failure-rate", "1"])
        printed = "\n".join(err)
    assert server.posts > 0 and "Request refused for key" in stored_text(tmp_path)
    assert key not in stored_text(tmp_path)
    assert key not in printed
