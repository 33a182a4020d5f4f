"""The response cache of score, optimize and evolve keys a reply by everything that can change
it: the model, the server (``--api-base``), the backend's parameters and the messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction
from fakeserver import FakeServer

ROWS = [
    Instruction(text=f"Explain the water cycle to child number {i}.", response="Water rises.")
    for i in range(3)
]


def scores(path: Path) -> list[float]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["metadata"]["scores"]["quality"] for line in lines]


def test_score_on_another_server_is_not_answered_from_the_first_servers_cache(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cache-scope-0000")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in ROWS), encoding="utf-8")
    cache = tmp_path / "cache.sqlite"
    first = FakeServer(handler=lambda messages: "Score: 3")
    second = FakeServer(handler=lambda messages: "Score: 8")
    with first.run_in_thread(), second.run_in_thread():
        for server, out in ((first, "a.jsonl"), (second, "b.jsonl"), (second, "c.jsonl")):
            argv = ["score", str(data), "-o", str(tmp_path / out), "--scores", "quality", "-q"]
            argv += ["--model", "openai/fake", "--api-base", server.url, "--cache", str(cache)]
            code, err, _ = cli(argv)
            assert code == 0, err
        assert first.snapshot().requests == len(ROWS)
        assert second.snapshot().requests == len(ROWS)  # c.jsonl: answered from the cache
    assert scores(tmp_path / "a.jsonl") == [3.0] * len(ROWS)
    assert scores(tmp_path / "b.jsonl") == [8.0] * len(ROWS)
    assert scores(tmp_path / "c.jsonl") == [8.0] * len(ROWS)
    report = json.loads((tmp_path / "c.jsonl.scores.json").read_text())
    assert report["calls"]["sent"] == 0
