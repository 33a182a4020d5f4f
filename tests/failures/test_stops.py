"""A run that goes wrong says so, stops early when it cannot succeed, and fails the command.

Each case runs the real command (``evolkit.cli.main``) against a server on loopback
(``tests/loopback.py``), asserts the exit code and the one line printed, that it ended in
seconds, and that the finished work is kept and resumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SEEDS = [f"Explain how to care for plant number {i} in a small flat." for i in range(6)]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.txt"
    path.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    return path


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def state(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (out.with_name(out.name + ".evolkit") / "state.json").read_text(encoding="utf-8")
    )
    return data


def assert_one_line(err: list[str], *words: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], (word, err[0])


def test_missing_key_stops_at_once_and_names_the_variable(
    server: Any,
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    monkeypatch: pytest.MonkeyPatch,
    good_key: str,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "out.jsonl"
    code, err, elapsed = cli(evolve_argv(seeds, out, server.url))
    assert code == 2
    assert_one_line(err, "run stopped", "no call has succeeded", "OPENAI_API_KEY")
    assert elapsed < 15
    assert server.posts == 0  # the client refused to send without a key
    assert not out.exists()


def test_rejected_key_then_fixed_key_makes_the_failed_calls_again(
    server: Any,
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    monkeypatch: pytest.MonkeyPatch,
    good_key: str,
    make_server: Any,
) -> None:
    out = tmp_path / "out.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-00000000000")
    code, err, elapsed = cli(evolve_argv(seeds, out, server.url))
    assert code == 2
    assert_one_line(err, "authentication failed", "401", "OPENAI_API_KEY")
    assert "sk-wrong-key-00000000000" not in err[0]  # the echoed key is redacted
    assert elapsed < 15
    assert server.posts <= 16 and server.answered == 0
    assert not out.exists()

    monkeypatch.setenv("OPENAI_API_KEY", good_key)
    code, err, _ = cli(evolve_argv(seeds, out, server.url))
    assert code == 0, err
    fixed = rows(out)
    clean_out = tmp_path / "clean.jsonl"
    with make_server() as clean:
        code, _, _ = cli(evolve_argv(seeds, clean_out, clean.url))
    assert code == 0
    assert sorted(map(json.dumps, fixed)) == sorted(map(json.dumps, rows(clean_out)))
    assert len(fixed) >= len(SEEDS)
    assert server.answered == clean.answered  # every call made once the key was right


def test_unknown_model_stops_at_once(
    server: Any,
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    good_key: str,
) -> None:
    out = tmp_path / "out.jsonl"
    code, err, elapsed = cli(evolve_argv(seeds, out, server.url, model="nosuch"))
    assert code == 2
    assert_one_line(err, "not found", "--model")
    assert elapsed < 15
    assert server.answered == 0


def test_closed_port_stops_in_seconds(
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    good_key: str,
) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out.jsonl"
    code, err, elapsed = cli(evolve_argv(seeds, out, f"http://127.0.0.1:{port}/v1"))
    assert code == 2
    assert_one_line(err, "connection failed", "--api-base")
    assert elapsed < 30  # the first call's retries (4, backoff from 0.5 s), then the stop


def test_calls_failing_from_round_2_stop_the_run_and_resume(
    server: Any,
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    good_key: str,
    make_server: Any,
) -> None:
    one_round = tmp_path / "one.jsonl"
    code, _, _ = cli([*evolve_argv(seeds, one_round, server.url), "--rounds", "1"])
    assert code == 0
    calls_to_round_1 = server.answered

    with make_server() as failing:
        failing.fail_after = calls_to_round_1  # rounds 0 and 1 answer, then every call fails
        out = tmp_path / "out.jsonl"
        code, err, elapsed = cli([*evolve_argv(seeds, out, failing.url), "--retries", "1"])
        assert code == 2
        assert_one_line(err, "run stopped", "server error 500", "resume")
        assert elapsed < 30
        assert state(out)["completed_round"] == 1  # round 1 is kept, round 2 not committed
        failed_posts = failing.posts - failing.answered
        code, err, _ = cli(["stats", str(out)])  # the report says why, with counts
        assert code == 0
        assert any("stopped: model_error:server_error" in line for line in err), err
        assert any("x model_error:server_error: server error 500" in line for line in err), err

        failing.fail_after = None
        code, err, _ = cli(evolve_argv(seeds, out, failing.url))
        assert code == 0, err
        assert state(out)["completed_round"] == 2
        # the resumed run made round 2's calls only: none of rounds 0-1 again
        clean_out = tmp_path / "clean.jsonl"
        with make_server() as clean:
            cli(evolve_argv(seeds, clean_out, clean.url))
        assert failing.answered == clean.answered
        assert failed_posts >= 1
    assert sorted(map(json.dumps, rows(out))) == sorted(map(json.dumps, rows(clean_out)))


def test_evaluation_whose_every_call_fails_prints_no_score(
    gsm8k_file: Path,
    server: Any,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    good_key: str,
) -> None:
    data = gsm8k_file
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-00000000000")
    argv = [
        "eval",
        "gsm8k",
        "--model",
        "openai/known",
        "--backend",
        "litellm",
        "--data",
        str(data),
        "--num-fewshot",
        "0",
        "-O",
        f"api_base={server.url}",
    ]
    code, err, elapsed = cli(argv)
    out = cli.out
    assert code == 2
    assert_one_line(err, "authentication failed", "OPENAI_API_KEY")
    assert "accuracy" not in out.lower()
    assert elapsed < 15
    assert server.posts < 40  # stopped before sending every question


def test_provider_error_echoing_the_key_is_redacted_on_disk(
    server: Any,
    seeds: Path,
    tmp_path: Path,
    cli: Any,
    evolve_argv: Any,
    good_key: str,
) -> None:
    out = tmp_path / "out.jsonl"
    code, _, _ = cli([*evolve_argv(seeds, out, server.url), "--rounds", "0"])
    assert code == 0
    server.echo_key_status = 400  # a bad request whose message repeats the key
    argv = [*evolve_argv(seeds, out, server.url), "--rounds", "1", "--max-failure-rate", "1"]
    code, err, _ = cli(argv)
    assert code == 0
    assert any("bad request 400" in line for line in err)  # the failure summary, on stderr
    stored = "".join(p.read_text() for p in out.with_name(out.name + ".evolkit").glob("*.jsonl"))
    stored += out.with_name(out.name + ".run.json").read_text()
    assert "Request refused for key" in stored
    assert good_key not in stored and good_key not in "".join(err)
