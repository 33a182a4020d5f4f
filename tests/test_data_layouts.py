"""Seed layouts: found from the keys, mapped with --field, unused keys kept in metadata."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction
from evolkit.data import LAYOUTS, LayoutError, RowMapper
from evolkit.errors import SeedFileError
from evolkit.io import read_instructions, write_instructions
from evolkit.testing import FakeBackend

# Rows written for these tests in the layouts of well-known public files.
SELF_INSTRUCT = [
    {
        "id": "seed_task_0",
        "name": "rank_by_population",
        "instruction": "Rank these countries by their population.",
        "instances": [{"input": "Chile, Norway, Kenya", "output": "Kenya, Chile, Norway"}],
        "is_classification": False,
    },
    {
        "id": "seed_task_1",
        "name": "name_a_colour",
        "instruction": "Name a warm colour.",
        "instances": [{"input": "", "output": "Orange."}],
        "is_classification": False,
    },
]
CAPITALISED = [{"Instruction": "Write a limerick about a cat.", "Output": "There once was..."}]
GSM8K_STYLE = [
    {"question": "Ann has 3 apples and buys 4 more. How many?", "answer": "3+4=7\n#### 7"},
]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evolkit.cli", *args], capture_output=True, text=True
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_self_instruct_keeps_input_output_and_other_keys(tmp_path: Path) -> None:
    rows = list(read_instructions(write_jsonl(tmp_path / "seed_tasks.jsonl", SELF_INSTRUCT)))
    assert rows[0].text == "Rank these countries by their population."
    assert rows[0].input == "Chile, Norway, Kenya"
    assert rows[0].response == "Kenya, Chile, Norway"
    assert rows[0].id == "seed_task_0"
    assert rows[0].metadata == {"name": "rank_by_population", "is_classification": False}
    assert rows[1].input == "" and rows[1].response == "Orange."


def test_self_instruct_with_several_instances_keeps_them_all(tmp_path: Path) -> None:
    row = {**SELF_INSTRUCT[0], "instances": [{"input": "a", "output": "b"}, {"input": "c"}]}
    (inst,) = read_instructions(write_jsonl(tmp_path / "s.jsonl", [row]))
    assert (inst.input, inst.response) == ("a", "b")
    assert inst.metadata["instances"] == row["instances"]


def test_seed_input_reaches_the_model(tmp_path: Path) -> None:
    import evolkit

    backend = FakeBackend()
    seeds = write_jsonl(tmp_path / "seed_tasks.jsonl", SELF_INSTRUCT[:1])
    evolkit.evolve(seeds, rounds=1, backend=backend, respond=True)
    prompts = ["\n".join(m["content"] for m in messages) for messages, _ in backend.calls]
    assert prompts and all("Chile, Norway, Kenya" in p for p in prompts)


@pytest.mark.parametrize(
    "fields", [None, ["instruction=Instruction", "response=Output"]], ids=["no-flags", "fields"]
)
def test_capital_instruction(tmp_path: Path, fields: list[str] | None) -> None:
    path = write_jsonl(tmp_path / "evol_test.jsonl", CAPITALISED)
    (inst,) = read_instructions(path, fields=fields)
    assert inst.text == "Write a limerick about a cat."
    assert inst.response == "There once was..."
    assert inst.metadata == {}


@pytest.mark.parametrize(
    "fields", [None, ["instruction=question", "response=answer"]], ids=["no-flags", "fields"]
)
def test_question_answer(tmp_path: Path, fields: list[str] | None) -> None:
    (inst,) = read_instructions(write_jsonl(tmp_path / "gsm.jsonl", GSM8K_STYLE), fields=fields)
    assert inst.text.startswith("Ann has 3 apples")
    assert inst.response == "3+4=7\n#### 7"


def test_cli_field_flags_map_a_file(tmp_path: Path) -> None:
    rows = [{"q": {"text": "Say hi.", "ctx": "to Bob"}, "gold": "Hi Bob", "uid": 7, "src": "x"}]
    path = write_jsonl(tmp_path / "nested.jsonl", rows)
    out = tmp_path / "o.jsonl"
    proc = cli(
        "evolve",
        str(path),
        "-o",
        str(out),
        "--rounds",
        "0",
        "--model",
        "fake/x",
        "--cache",
        "off",
        "--progress",
        "log",
        "--no-respond",
        "--field",
        "instruction=q.text",
        "--field",
        "input=q.ctx",
        "--field",
        "response=gold",
        "--field",
        "id=uid",
    )
    assert proc.returncode == 0, proc.stderr
    assert "seeds: " in proc.stderr and "layout fields" in proc.stderr
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["instruction"], row["input"], row["output"], row["id"]) == (
        "Say hi.",
        "to Bob",
        "Hi Bob",
        "7",
    )
    assert row["metadata"] == {"src": "x"}


@pytest.mark.parametrize(
    "row,layout,expected",
    [
        (
            {
                "conversations": [
                    {"from": "system", "value": "Be brief."},
                    {"from": "human", "value": "Name a planet."},
                    {"from": "gpt", "value": "Mars."},
                ],
                "id": "c1",
            },
            "sharegpt",
            ("Name a planet.", "", "Mars.", {"system": "Be brief."}),
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Name a river."},
                    {"role": "assistant", "content": "The Nile."},
                ]
            },
            "messages",
            ("Name a river.", "", "The Nile.", {}),
        ),
        (
            {"prompt": "Finish the line: roses are", "completion": " red."},
            "prompt/completion",
            ("Finish the line: roses are", "", " red.", {}),
        ),
        (
            {
                "prompt": [{"role": "user", "content": "Hi?"}],
                "completion": [{"role": "assistant", "content": "Hello."}],
            },
            "prompt/completion",
            ("Hi?", "", "Hello.", {}),
        ),
        (
            {"prompt": "Name a fruit.", "response": "A pear.", "source": "x"},
            "prompt/response",
            ("Name a fruit.", "", "A pear.", {"source": "x"}),
        ),
        (
            {
                "instruction": "Who wrote it?",
                "context": "Dune, by Frank Herbert.",
                "response": "Frank Herbert.",
                "category": "closed_qa",
            },
            "dolly",
            (
                "Who wrote it?",
                "Dune, by Frank Herbert.",
                "Frank Herbert.",
                {"category": "closed_qa"},
            ),
        ),
        (
            {"instruction": "Sort.", "input": "3 1 2", "output": "1 2 3", "text": "### ..."},
            "alpaca",
            ("Sort.", "3 1 2", "1 2 3", {"text": "### ..."}),
        ),
        ({"text": "Name a prime."}, "text", ("Name a prime.", "", None, {})),
    ],
)
def test_layouts_are_found(
    tmp_path: Path, row: dict[str, Any], layout: str, expected: tuple[Any, ...]
) -> None:
    mapper = RowMapper()
    (inst,) = read_instructions(write_jsonl(tmp_path / "d.jsonl", [row]), mapper=mapper)
    assert (inst.text, inst.input, inst.response, dict(inst.metadata)) == expected
    assert dict(mapper.counts) == {layout: 1}
    assert mapper.describe().startswith(f"layout {layout} (instruction ← ")


def test_multi_turn_conversation_is_kept_whole(tmp_path: Path) -> None:
    turns = [
        {"from": "human", "value": "A?"},
        {"from": "gpt", "value": "B."},
        {"from": "human", "value": "C?"},
        {"from": "gpt", "value": "D."},
    ]
    (inst,) = read_instructions(write_jsonl(tmp_path / "c.jsonl", [{"conversations": turns}]))
    assert (inst.text, inst.response) == ("A?", "B.")
    assert inst.metadata == {"conversations": turns}


def test_ambiguous_row_is_an_error_listing_keys_and_flags(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "amb.jsonl", [{"question": "Q?", "prompt": "P?", "x": 1}])
    with pytest.raises(SeedFileError) as info:
        list(read_instructions(path))
    message = str(info.value)
    assert "amb.jsonl:1" in message
    assert "'question', 'prompt', 'x'" in message
    assert "prompt/completion and question/answer" in message
    assert "--layout" in message and "--field instruction=KEY" in message
    # Either flag settles it.
    (by_layout,) = read_instructions(path, layout="question/answer")
    assert by_layout.text == "Q?" and by_layout.metadata == {"prompt": "P?", "x": 1}
    (by_field,) = read_instructions(path, fields={"instruction": "prompt"})
    assert by_field.text == "P?" and by_field.metadata == {"question": "Q?", "x": 1}


def test_ambiguous_file_on_the_command_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "amb.jsonl", [{"Instruction": "a", "instruction": "b"}])
    out = tmp_path / "o.jsonl"
    proc = cli("evolve", str(path), "-o", str(out), "--model", "fake/x", "--cache", "off")
    assert proc.returncode == 2
    assert "differ only in case" in proc.stderr and "--field" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amb.jsonl"]


def test_no_layout_names_the_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"title": "T", "body": "B"}])
    with pytest.raises(SeedFileError, match=r"keys 'title', 'body'.*--field instruction=KEY"):
        list(read_instructions(path))


def test_bad_field_flags() -> None:
    with pytest.raises(LayoutError, match="unknown field role 'answer'"):
        RowMapper(["answer=x"])
    with pytest.raises(LayoutError, match="ROLE=KEY"):
        RowMapper(["instruction"])
    with pytest.raises(LayoutError, match="unknown layout"):
        RowMapper(layout="alpacca")


def test_layout_names_are_the_documented_ones() -> None:
    assert set(LAYOUTS) == {
        "alpaca",
        "self-instruct",
        "dolly",
        "prompt/completion",
        "prompt/response",
        "question/answer",
        "messages",
        "sharegpt",
        "text",
    }


@pytest.mark.parametrize("fmt", ["chat", "sharegpt", "json", "jsonl"])
def test_exports_read_back_with_lineage(tmp_path: Path, fmt: str) -> None:
    rows = [
        Instruction(text="Sort these.", input="3 1 2", response="1 2 3", metadata={"k": 1}),
        Instruction(text="Child.", parent_id="0123456789abcdef", operator="depth.deepen", round=2),
    ]
    path = tmp_path / ("d.json" if fmt == "json" else "d.jsonl")
    write_instructions(path, rows, fmt)  # type: ignore[arg-type]
    assert list(read_instructions(path)) == rows


def test_the_docs_show_one_example_per_layout() -> None:
    """docs/guides/your-data.md has a section per layout whose example is read as that layout."""
    import re

    page = Path(__file__).resolve().parent.parent / "docs" / "guides" / "your-data.md"
    text = page.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\S+)\n\n```json\n(.+?)\n```", text, re.M | re.S))
    assert set(sections) == set(LAYOUTS)
    for name, example in sections.items():
        mapper = RowMapper()
        mapper.instruction(json.loads(example))
        assert dict(mapper.counts) == {name: 1}, name
