"""A seed whose answer failed is asked for again by the next run of the same command, and a run
that ends with seeds left unanswered says so and fails unless ``--allow-unanswered``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SEEDS = [f"Describe the habits of garden bird number {i} in winter." for i in range(6)]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.txt"
    path.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def completed_round(out: Path) -> int:
    state = json.loads((out.with_name(out.name + ".evolkit") / "state.json").read_text())
    return int(state["completed_round"])


def test_resume_answers_the_seeds_a_stopped_run_left_failed(
    server: Any, seeds: Path, tmp_path: Path, cli: Any, evolve_argv: Any, good_key: str,
    make_server: Any,
) -> None:  # fmt: skip
    server.fail_after = 4  # four seed answers, then every call fails: round 1 stops the run
    out = tmp_path / "out.jsonl"
    argv = [*evolve_argv(seeds, out, server.url), "--retries", "0", "--concurrency", "1"]
    code, err, _ = cli(argv)
    assert code == 2
    assert len(err) == 1 and "run stopped" in err[0], err
    assert completed_round(out) == 0  # round 0 was committed with two seeds unanswered

    server.fail_after = None
    code, err, _ = cli(evolve_argv(seeds, out, server.url))
    assert code == 0, err
    resumed = rows(out)
    assert [r for r in resumed if r["output"] is None] == []
    report = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert report["stats"]["seed_response_failures"] == 0
    with make_server() as clean:
        clean_out = tmp_path / "clean.jsonl"
        assert cli(evolve_argv(seeds, clean_out, clean.url))[0] == 0
    assert sorted(map(json.dumps, resumed)) == sorted(map(json.dumps, rows(clean_out)))


def test_unanswered_seeds_fail_the_run_unless_allowed_and_a_rerun_asks_again(
    server: Any, seeds: Path, tmp_path: Path, cli: Any, evolve_argv: Any, good_key: str
) -> None:
    server.fail_after = 4
    out = tmp_path / "out.jsonl"
    argv = [*evolve_argv(seeds, out, server.url, rounds=0), "--retries", "0", "--concurrency", "1"]
    code, err, _ = cli(argv)
    assert code == 2
    assert [line for line in err if line.startswith("error:")] == [
        "error: 2 of 6 rows have no answer (their seed's answer failed, see the drops); run the "
        "same command again to ask for them again, or pass --allow-unanswered to keep them so"
    ]
    assert sum(r["output"] is None for r in rows(out)) == 2

    code, err, _ = cli([*argv, "--allow-unanswered"])  # a rerun still fails: nothing new
    assert code == 0, err
    assert any(line.startswith("warning: 2 of 6 rows have no answer") for line in err), err

    server.fail_after = None
    sent = server.posts
    code, err, _ = cli(argv)
    assert code == 0, err
    assert server.posts - sent == 2  # only the two missing answers were asked for
    assert all(r["output"] for r in rows(out))
