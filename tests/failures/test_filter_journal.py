"""``evolkit filter`` journals its judge calls in the output's work directory: a judging run
that stopped midway is run again without sending a finished call twice, and gives the same
verdicts as a run that was never stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolkit import Instruction

SEEDS = [Instruction(text=f"Write a short note to neighbour number {i}.") for i in range(8)]
CHILDREN = [
    Instruction(text=f"{s.text} Mention the parcel and the time.", parent_id=s.id, operator="x",
                round=1)
    for s in SEEDS
]  # fmt: skip


def argv(data: Path, out: Path, url: str) -> list[str]:
    return ["filter", str(data), "-o", str(out), "--filters", "information_gain", "--model",
            "openai/known", "--api-base", url, "--retries", "0", "--concurrency", "2"]  # fmt: skip


def test_a_stopped_filter_resumes_without_sending_a_finished_call_again(
    tmp_path: Path, server: Any, good_key: str, cli: Any, make_server: Any
) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in [*SEEDS, *CHILDREN]))
    clean_out = tmp_path / "clean.jsonl"
    assert cli(argv(data, clean_out, server.url))[0] == 0
    calls = server.answered
    assert calls >= len(CHILDREN)

    with make_server() as stopping:
        stopping.fail_after = calls // 2  # half the judge calls answered, then a 400 each
        stopping.fail_status = 400
        out = tmp_path / "out.jsonl"
        code, err, _ = cli(argv(data, out, stopping.url))
        assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
        assert not out.exists()
        first = stopping.answered
        assert first == calls // 2

        stopping.fail_after = None
        code, err, _ = cli(argv(data, out, stopping.url))
        assert code == 0, err
        assert stopping.answered == calls  # the rerun sent only the calls not yet answered
    assert out.read_text() == clean_out.read_text()
    verdicts = out.with_name(out.name + ".verdicts.jsonl").read_text()
    assert verdicts == clean_out.with_name(clean_out.name + ".verdicts.jsonl").read_text()
