"""Exports: Parquet with fixed Features and a data set card, ShareGPT, rows without a response,
and the push to the Hub against a stand-in server on loopback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit import Instruction
from evolkit.data.export import MissingResponseWarning, export, hf_features
from evolkit.io import read_instructions, write_instructions
from evolkit.testing import FakeBackend

# The stand-in Hub. huggingface_hub's own tests upload to a staging Hub, which these tests
# cannot reach; this server answers the same requests (create a repository, validate a card's
# YAML, ask how each file is uploaded, commit) and keeps what was committed, so a test can
# point HF_ENDPOINT at it and check the files that arrived. Every file is asked to come inline
# ("regular"), so no LFS or Xet storage is involved.
TOKEN = "hf_stand_in_token"


class HubState:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.requests: list[str] = []


def _handler(state: HubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            path = self.path.split("?")[0]
            state.requests.append(f"POST {path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"error": "Invalid credentials in Authorization header"})
                return
            base = f"http://{self.headers['Host']}"
            if path == "/api/repos/create":
                spec = json.loads(body)
                repo = f"{spec['organization']}/{spec['name']}"
                state.repos[repo] = spec
                state.files.setdefault(repo, {})
                self._reply(200, {"url": f"{base}/datasets/{repo}", "name": repo})
            elif path == "/api/validate-yaml":
                self._reply(200, {"errors": [], "warnings": []})
            elif path.startswith("/api/datasets/") and "/preupload/" in path:
                files = json.loads(body)["files"]
                modes = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                    for f in files
                ]
                self._reply(200, {"files": modes})
            elif path.startswith("/api/datasets/") and "/commit/" in path:
                repo = path[len("/api/datasets/") :].split("/commit/")[0]
                if repo not in state.repos:
                    self._reply(404, {"error": f"Repository {repo} not found"})
                    return
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        value = item["value"]
                        state.files[repo][value["path"]] = base64.b64decode(value["content"])
                oid = f"{len(state.requests):040x}"
                self._reply(
                    200, {"commitUrl": f"{base}/datasets/{repo}/commit/{oid}", "commitOid": oid}
                )
            else:
                self._reply(404, {"error": f"no such endpoint {path}"})

    return Handler


@contextmanager
def stand_in_hub() -> Iterator[tuple[str, HubState]]:
    """``(endpoint, state)`` of a server on 127.0.0.1, stopped on exit."""
    state = HubState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


SEEDS = [
    {"instruction": "Sort these numbers.", "input": "3 1 2", "output": "1 2 3"},
    "Explain why the sky is blue.",
    "Write a haiku about autumn rain.",
]


def env(**extra: str) -> dict[str, str]:
    drop = ("HF_", "TRANSFORMERS_OFFLINE")  # huggingface_hub reads both as offline mode
    base = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**base, **extra}


def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evolkit.cli", *args],
        capture_output=True,
        text=True,
        env=env(HF_HUB_OFFLINE="1", **extra),
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-round run on disk, with some answers missing (respond=False)."""
    out = tmp_path_factory.mktemp("run") / "evolved.jsonl"
    evolkit.evolve(
        SEEDS,
        rounds=2,
        backend=FakeBackend(model="fake/card"),
        output=out,
        respond=False,
        operators={"depth": 2, "breadth": 1},
        seed=3,
    )
    return out


def test_hf_export_loads_with_the_declared_features(run: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    target = tmp_path / "ds"
    with pytest.warns(MissingResponseWarning, match="rows have no response"):
        result = export(run, target, "hf")
    rows = list(read_instructions(run))
    assert result.written == len(rows) and result.without_response > 0
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(target), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert loaded.features == hf_features()
    assert loaded.num_rows == len(rows)
    assert sorted(loaded["id"]) == sorted(r.id for r in rows)
    first = next(r for r in rows if r.input)
    got = next(x for x in loaded if x["id"] == first.id)
    assert (got["input"], got["output"], json.loads(got["metadata"])) == (
        first.input,
        first.response,
        dict(first.metadata),
    )


def test_the_card_names_every_figure(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    export(run, tmp_path / "ds", "hf", warn=False)
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    report = json.loads(run.with_name(run.name + ".run.json").read_text())
    stats, settings = report["stats"], report["settings"]
    assert "fake/card" in card  # model
    for name in settings["operators_used"]:  # operators, with their weights
        weight = 2.0 if name.startswith("depth") else 1.0
        assert f"| {name} | {weight} | {stats['attempted_per_operator'].get(name, 0)} |" in card
    assert "## Rows per round" in card and "| seeds | 3 |" in card
    for r, n in stats["rows_per_round"].items():
        assert f"| {'seeds' if r == '0' else r} | {n} |" in card
    for reason, count in stats["drop_reasons"].items():
        assert f"| {reason} | {count} |" in card
    total = stats["usage_per_model"]["fake/card"]
    assert f"| fake/card | {total['prompt_tokens']} | {total['completion_tokens']} |" in card
    assert "licence | unknown" in card and "| source | `list` |" in card  # seed data
    assert "arXiv:2304.12244" in card  # the method paper
    assert f"evolkit {evolkit.__version__}" in card
    assert '"operators": {\n    "breadth": 1.0,\n    "depth": 2.0\n  }' in card  # full config
    assert "rounds=2" in card and "seed=3" in card  # how to repeat it
    assert card.startswith("---\nlicense: unknown\n")


def test_card_licence_and_citations_follow_the_run(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    out = tmp_path / "math.jsonl"
    evolkit.evolve(
        ["Ann has 3 pens and buys 2. How many?"],
        rounds=1,
        output=out,
        backend=FakeBackend(),
        operators=["math.upward"],
        respond=False,
    )
    export(out, tmp_path / "ds", "hf", license="cc-by-4.0", warn=False)
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert "arXiv:2308.09583" in card and "arXiv:2306.08568" not in card


@pytest.mark.parametrize("fmt", ["alpaca", "chat", "sharegpt", "jsonl"])
def test_rows_without_a_response_are_counted_and_can_be_left_out(tmp_path: Path, fmt: str) -> None:
    data = tmp_path / "d.jsonl"
    write_instructions(data, [Instruction(text="A?", response="B."), Instruction(text="C?")])
    proc = cli("export", str(data), "--format", fmt, "-o", str(tmp_path / "all"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: 1 of 2 rows have no response" in proc.stderr
    assert (
        len(list(read_instructions(tmp_path / "all", "json" if fmt == "alpaca" else "jsonl"))) == 2
    )
    proc = cli("export", str(data), "--format", fmt, str(tmp_path / "some"), "--require-response")
    assert proc.returncode == 0, proc.stderr
    assert "left out 1 rows without a response" in proc.stderr
    kept = list(read_instructions(tmp_path / "some", "json" if fmt == "alpaca" else "jsonl"))
    assert [r.text for r in kept] == ["A?"]


def test_sharegpt_export(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    write_instructions(data, [Instruction(text="Sort.", input="3 1 2", response="1 2 3")])
    export(data, tmp_path / "sg.jsonl", "sharegpt")
    (row,) = [json.loads(line) for line in (tmp_path / "sg.jsonl").read_text().splitlines()]
    assert row["conversations"] == [
        {"from": "human", "value": "Sort.\n\n3 1 2"},
        {"from": "gpt", "value": "1 2 3"},
    ]


def test_refused_export_writes_nothing(tmp_path: Path) -> None:
    proc = cli("export", str(tmp_path / "missing.jsonl"), "--format", "hf", str(tmp_path / "ds"))
    assert proc.returncode == 2 and "file not found" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def push(run: Path, target: Path, endpoint: str, token: str) -> subprocess.CompletedProcess[str]:
    """``evolkit export RUN --format hf TARGET --push-to-hub someone/evolved`` against
    ``endpoint``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "evolkit.cli",
            "export",
            str(run),
            "--format",
            "hf",
            str(target),
            "--push-to-hub",
            "someone/evolved",
        ],
        capture_output=True,
        text=True,
        env=env(HF_ENDPOINT=endpoint, HF_TOKEN=token, HF_HUB_DISABLE_TELEMETRY="1"),
    )


def test_push_to_hub_through_huggingface_hub(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    with stand_in_hub() as (endpoint, state):
        proc = push(run, tmp_path / "ds", endpoint, TOKEN)
        assert proc.returncode == 0, proc.stderr
        assert "pushed" in proc.stdout and f"{endpoint}/datasets/someone/evolved/commit/" in (
            proc.stdout
        )
        assert state.repos["someone/evolved"]["type"] == "dataset"
        sent = state.files["someone/evolved"]
        local = tmp_path / "ds"
        assert set(sent) == {"README.md", "data/train-00000-of-00001.parquet"}
        for name, content in sent.items():
            assert content == (local / name).read_bytes()

        # A rejected token is one line naming the fix, exit 2.
        proc = push(run, tmp_path / "ds2", endpoint, "hf_wrong")
        assert proc.returncode == 2
        assert "error: cannot push to someone/evolved" in proc.stderr
        assert "HF_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_push_offline_names_the_fix(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    proc = cli("export", str(run), "--format", "hf", str(tmp_path / "ds"), "--push-to-hub", "a/b")
    assert proc.returncode == 2 and "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set" in proc.stderr
