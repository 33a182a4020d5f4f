"""``score`` holds the same one-writer lock as ``evolve`` on the file it writes, keeps its
journal in that file's own work directory, and sweeps the temp files a killed scoring left."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction
from fakeserver import FakeServer
from process_tools import wait_for

ROWS = [
    Instruction(text=f"Plan a walk for day {i}.", response="Walk to the park.") for i in range(6)
]


def data_file(tmp_path: Path) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in ROWS), encoding="utf-8")
    return data


def argv(data: Path, url: str, *extra: str) -> list[str]:
    return ["score", str(data), "--scores", "quality", "--model", "openai/fake", "--api-base",
            url, "--cache", "off", "-q", *extra]  # fmt: skip


def quality(path: Path) -> list[float]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["metadata"]["scores"]["quality"] for line in lines]


def test_a_second_score_of_one_file_is_refused_while_the_first_writes(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evolkit.score import score

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-score-lock-0000")
    data = data_file(tmp_path)
    lock_pid = data.with_name("data.jsonl.evolkit") / "lock.pid"
    reports: list[Any] = []
    with FakeServer(latency=0.2, handler=lambda m: "Score: 4").run_in_thread() as server:
        params = {"api_base": server.url}
        first = threading.Thread(  # the first writer: the Python API, in this process
            target=lambda: reports.append(
                score(
                    data,
                    scores="quality",
                    model="openai/fake",
                    model_params=params,
                    concurrency=1,
                    cache=None,
                )
            )
        )
        first.start()
        try:
            wait_for(lambda: lock_pid.exists() and lock_pid.read_text().strip() != "")
            code, err, _ = cli(argv(data, server.url))
        finally:
            first.join(60)
        assert code == 2
        assert len(err) == 1 and "is being written by process" in err[0], err
        assert server.snapshot().requests == len(ROWS)  # the refused run sent nothing
    assert reports and reports[0].failed == 0
    assert quality(data) == [4.0] * len(ROWS)


def test_two_outputs_have_two_work_directories_and_stale_temp_files_are_swept(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-score-lock-0000")
    data = data_file(tmp_path)
    stale = [tmp_path / ".a.jsonl.k1l2m3.tmp", tmp_path / "a.jsonl.evolkit" / ".x.k1l2m3.tmp"]
    stale[1].parent.mkdir()
    for path in stale:
        path.write_text("left by a killed run")
    with FakeServer(handler=lambda m: "Score: 6").run_in_thread() as server:
        for name in ("a.jsonl", "b.jsonl"):
            code, err, _ = cli(argv(data, server.url, "-o", str(tmp_path / name)))
            assert code == 0, err
        assert server.snapshot().requests == 2 * len(ROWS)
    for name in ("a.jsonl", "b.jsonl"):
        assert (tmp_path / f"{name}.evolkit" / "score-journal.sqlite").is_file()
        assert quality(tmp_path / name) == [6.0] * len(ROWS)
    assert not (tmp_path / "data.jsonl.evolkit").exists()  # the input's is not used
    assert not any(path.exists() for path in stale)
