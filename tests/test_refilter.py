"""The eliminator in a run (prompt-aware leaks, pool-wide near duplicates), ``evolkit filter``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit import ChatMessage
from evolkit._markers import REWRITE_TAG
from evolkit.cli import main
from evolkit.testing import FakeBackend, default_reply


def echo_prompt(messages: Sequence[ChatMessage]) -> str:
    """Rewrites that copy the operator's first prompt line, like a confused small model."""
    user = messages[-1]["content"]
    if f"<{REWRITE_TAG}>" in user:
        first_line = user.split("\n", 1)[0]
        return f"<{REWRITE_TAG}>{first_line} Then list three examples.</{REWRITE_TAG}>"
    return default_reply(messages)


def test_a_run_drops_rewrites_that_echo_the_operators_prompt() -> None:
    result = evolkit.evolve(
        ["Explain why metal feels colder than wood.", "Give three tips for houseplants."],
        rounds=1,
        backend=FakeBackend(echo_prompt),
    )
    assert result.stats.drop_reasons.get("template_leak") == 2
    assert [r.round for r in result] == [0, 0]


def converge(messages: Sequence[ChatMessage]) -> str:
    """Every rewrite turns into (nearly) the same instruction, whatever the seed."""
    user = messages[-1]["content"]
    if f"<{REWRITE_TAG}>" in user:
        word = "carefully" if "metal" in user else "clearly"
        text = f"Describe, {word}, how a heat pump moves heat from cold outdoor air into a home."
        return f"<{REWRITE_TAG}>{text}</{REWRITE_TAG}>"
    return default_reply(messages)


def test_a_run_drops_near_duplicates_across_lineages_with_the_id(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = evolkit.evolve(
        ["Explain why metal feels colder than wood.", "Give three tips for houseplants."],
        rounds=1,
        backend=FakeBackend(converge),
        output=out,
    )
    assert result.stats.drop_reasons.get("near_duplicate") == 1
    kept = [r for r in result if r.round == 1]
    assert len(kept) == 1
    drops = [
        json.loads(line)
        for line in (tmp_path / "out.jsonl.evolkit" / "drops-0001.jsonl").read_text().splitlines()
    ]
    assert [d["metadata"] for d in drops] == [{"duplicate_of": kept[0].id}]


# --- evolkit filter ---------------------------------------------------------------------------


def rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PARENT = {"id": "p1", "instruction": "Describe how vaccines train the immune system.", "round": 0}


def evolved(i: int, text: str, output: str = "A full and careful answer.", **kw: Any) -> dict:
    return {
        "id": f"c{i}",
        "instruction": text,
        "output": output,
        "parent_id": "p1",
        "operator": "depth.deepen",
        "round": 1,
        **kw,
    }


DATA = [
    PARENT,
    evolved(1, "Describe how vaccines train the immune system."),
    evolved(
        2,
        "Describe how vaccines train the immune system and how long their protection lasts"
        " in adults. Ask why, not only what.",
    ),
    evolved(3, "Not Equal"),
    evolved(
        4,
        "Describe how mRNA vaccines train the immune system, and why some of them need a booster"
        " dose after a year.",
        output="Please provide the vaccine you mean.",
    ),
    evolved(
        5,
        "Describe how mRNA vaccines train the immune system, and why memory B cells fade over the"
        " months after a dose.",
        output="mRNA vaccines carry instructions for a spike protein; the body learns it.",
    ),
]


def test_filter_an_evolkit_file_without_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", DATA)
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 rows: 2 kept, 4 dropped" in printed
    for reason in (
        "near_copy:no_information_gain",
        "template_leak:template_leak",
        "not_instruction:verdict_not_instruction",
        "refusal:asks_for_information",
    ):
        assert reason in printed
    assert "not run (they ask the model; pass --model): information_gain" in printed
    assert [r["id"] for r in rows_of(out)] == ["p1", "c5"]
    assert rows_of(out)[1]["metadata"]["growth"] == {"added_words": 13, "target": "within"}
    verdicts = {r["id"]: r for r in rows_of(tmp_path / "kept.jsonl.verdicts.jsonl")}
    assert [(v["filter"], v["reason"]) for v in verdicts["p1"]["verdicts"]] == [
        ("refusal", "no_response"),
        ("stopwords", "no_response"),
        ("near_duplicate", "ok"),
    ]
    assert verdicts["c3"]["verdicts"] == [
        {"filter": "not_instruction", "keep": False, "reason": "verdict_not_instruction",
         "metadata": {}}
    ]  # fmt: skip
    assert [v["filter"] for v in verdicts["c5"]["verdicts"]][-1] == "near_duplicate"


def test_filter_with_a_model_runs_the_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", DATA)
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "-o", str(out), "--model", "fake/judge"]) == 0
    printed = capsys.readouterr().out
    assert "not run" not in printed
    verdicts = {r["id"]: r for r in rows_of(tmp_path / "kept.jsonl.verdicts.jsonl")}
    filters = [v["filter"] for v in verdicts["c5"]["verdicts"]]
    assert filters[-2:] == ["information_gain", "near_duplicate"]


def test_filter_an_alpaca_file_with_chosen_filters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alpaca = [
        {
            "instruction": "Greet a new colleague in French at the start of the day.",
            "input": "",
            "output": "Bonjour, bienvenue !",
        },
        {"instruction": "Write a haiku about rain.", "input": "", "output": "Understood."},
        {"instruction": "Explain gravity.", "input": "", "output": "I'm sorry, I cannot."},
        {
            "instruction": "Greet a new colleague in French at the start of the day, please.",
            "input": "",
            "output": "Bonjour et bienvenue !",
        },
    ]
    src = tmp_path / "alpaca.json"
    src.write_text(json.dumps(alpaca))
    out = tmp_path / "kept.jsonl"
    args = ["filter", str(src), "-o", str(out), "--filters", "refusal,near_copy,near_duplicate"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    # no parent in the file: the response rules and the pool rules judge every row
    assert "4 rows: 1 kept, 3 dropped" in printed
    assert "refusal:acknowledgement_only" in printed and "refusal:refusal" in printed
    assert "near_duplicate:near_duplicate" in printed
    assert [r["instruction"] for r in rows_of(out)] == [alpaca[0]["instruction"]]
    last = rows_of(tmp_path / "kept.jsonl.verdicts.jsonl")[-1]["verdicts"][-1]
    assert last["metadata"] == {"duplicate_of": rows_of(out)[0]["id"]}
    # with a model and the default rules: the judge needs a parent, so the verdicts are the same
    assert main(["filter", str(src), "-o", str(out), "--model", "fake/judge"]) == 0
    assert "4 rows: 1 kept, 3 dropped" in capsys.readouterr().out


def test_filter_with_no_filters_is_an_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", DATA)
    assert main(["filter", str(src), "-o", str(tmp_path / "o.jsonl"), "--filters", ","]) == 2
    assert main(["filter", str(src), "-o", str(tmp_path / "o.jsonl"), "--filters", "nope"]) == 2


def test_filter_of_an_empty_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "empty.jsonl", [])
    out = tmp_path / "o.jsonl"
    assert main(["filter", str(src), "-o", str(out)]) == 2
    assert "the file has no rows" in capsys.readouterr().err
    assert not out.exists()
