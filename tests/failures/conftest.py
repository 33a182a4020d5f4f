"""A small OpenAI-compatible server on loopback for failure tests: it checks the API key and the
model like a provider does, can start failing after a number of calls, and counts what it saw.

Replies come from :func:`evolkit.testing.default_reply`, so evolkit's built-in prompts get
rewrites, judgements and answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from evolkit.testing import default_reply
from process_tools import serving

GOOD_KEY = "sk-test-good-0123456789abcdef"


class Loopback:
    """Settings and counters of a running loopback server (change them between runs)."""

    def __init__(self) -> None:
        self.url = ""
        self.models = {"known"}
        self.fail_after: int | None = None  # from this many answered calls on: ``fail_status``
        self.fail_status = 500
        self.echo_key_status: int | None = None  # answer every call with this status, key echoed
        self.delay = 0.0
        self.stall_every: int | None = None  # every n-th call waits ``stall`` seconds
        self.stall = 0.0
        self.reply_size: int | None = None  # pad every answer to this many characters
        self.posts = 0
        self.answered = 0
        self.lock = threading.Lock()


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": kind}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            with state.lock:
                state.posts += 1
                number = state.posts
            if state.echo_key_status is not None:
                return self._error(
                    state.echo_key_status, f"Request refused for key {key}", "invalid_request"
                )
            if key != GOOD_KEY:
                return self._error(401, f"Incorrect API key provided: {key}", "invalid_api_key")
            if body.get("model") not in state.models:
                return self._error(404, f"The model {body.get('model')} does not exist", "nf")
            with state.lock:
                failing = state.fail_after is not None and state.answered >= state.fail_after
            if failing:
                return self._error(state.fail_status, "upstream went away", "server_error")
            if state.stall_every and number % state.stall_every == 0:
                time.sleep(state.stall)
            elif state.delay:
                time.sleep(state.delay)
            text = default_reply(body["messages"])
            if state.reply_size is not None:
                text = (text + " ") * (state.reply_size // max(1, len(text) + 1) + 1)
            with state.lock:
                state.answered += 1
            self._send(
                200,
                {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
                },
            )

    return Handler


@contextmanager
def loopback() -> Iterator[Loopback]:
    """A running loopback server (in a thread) and its state."""
    state = Loopback()
    with serving(_handler(state)) as url:
        state.url = url
        yield state


@pytest.fixture
def server() -> Iterator[Loopback]:
    """A running loopback server."""
    with loopback() as state:
        yield state


@pytest.fixture
def make_server() -> Callable[[], AbstractContextManager[Loopback]]:
    """Start more loopback servers: ``with make_server() as other: ...``."""
    return loopback


@pytest.fixture
def good_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The key the loopback server accepts, set as ``OPENAI_API_KEY``."""
    monkeypatch.setenv("OPENAI_API_KEY", GOOD_KEY)
    return GOOD_KEY


class Cli:
    """Runs the command in this process: exit code, the non-blank stderr lines and the seconds
    taken (litellm is imported before the clock starts: the time measured is the run's);
    ``out`` holds the last run's stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.out = ""

    def __call__(self, argv: list[str]) -> tuple[int, list[str], float]:
        from evolkit.backends._litellm_import import import_litellm
        from evolkit.cli import main

        import_litellm()
        self.capsys.readouterr()
        start = time.monotonic()
        code = main(argv)
        elapsed = time.monotonic() - start
        captured = self.capsys.readouterr()
        self.out = captured.out
        return code, [line for line in captured.err.splitlines() if line.strip()], elapsed


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """:class:`Cli` for this test."""
    return Cli(capsys)


def evolve_command(
    seeds: Any, out: Any, url: str, *extra: str, model: str = "known", rounds: int = 2
) -> list[str]:
    """``evolkit evolve`` against the loopback server at ``url``, quiet."""
    return [
        "evolve", str(seeds), "-o", str(out), "--model", f"openai/{model}", "--api-base", url,
        "--rounds", str(rounds), "-q", *extra,
    ]  # fmt: skip


@pytest.fixture
def evolve_argv() -> Callable[..., list[str]]:
    """:func:`evolve_command`, for tests."""
    return evolve_command


@pytest.fixture
def gsm8k_file(tmp_path: Any) -> Any:
    """A GSM8K-layout JSONL file of 48 easy questions."""
    data = tmp_path / "gsm8k.jsonl"
    data.write_text(
        "".join(
            json.dumps({"question": f"What is {i} plus {i}?", "answer": f"#### {2 * i}"}) + "\n"
            for i in range(48)
        ),
        encoding="utf-8",
    )
    return data
