"""Reading training files: evolkit JSONL, Alpaca JSON, chat messages; skipped rows counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolkit.errors import ConfigError, SeedFileError
from evolkit.train import ChatExample, PromptExample, read_examples


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evolkit_rows_skip_and_count_null_outputs(tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "instruction": "Sum 2 and 2.",
            "input": "",
            "output": "4",
            "parent_id": None,
            "operator": None,
            "round": 0,
            "metadata": {},
        },
        {
            "id": "b",
            "instruction": "Sum 2, 2 and 3.",
            "input": "",
            "output": None,
            "parent_id": "a",
            "operator": "depth.add_constraints",
            "round": 1,
            "metadata": {},
        },
        {
            "id": "c",
            "instruction": "Translate.",
            "input": "chat",
            "output": "cat",
            "parent_id": None,
            "operator": None,
            "round": 0,
            "metadata": {},
        },
        {
            "id": "d",
            "instruction": "Say nothing.",
            "input": "",
            "output": "   ",
            "parent_id": None,
            "operator": None,
            "round": 0,
            "metadata": {},
        },
    ]
    examples, read, skipped = read_examples(_jsonl(tmp_path / "out.jsonl", rows))
    assert read == 4
    assert skipped == {"no_output": 2}
    assert examples == [
        PromptExample("Sum 2 and 2.", "", "4", "a"),
        PromptExample("Translate.", "chat", "cat", "c"),
    ]


def test_alpaca_json_array(tmp_path: Path) -> None:
    path = tmp_path / "alpaca.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "Name a prime.", "input": "", "output": "Seven."},
                {"instruction": "Double it.", "input": "21", "output": "42"},
            ]
        ),
        encoding="utf-8",
    )
    examples, read, skipped = read_examples(path)
    assert read == 2 and skipped == {}
    assert examples[1] == PromptExample("Double it.", "21", "42", None)
    # the explicit format reads the same file the same way
    assert read_examples(path, "alpaca")[0] == examples


def test_chat_messages_rows(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Goodbye."},
            ]
        },
        {"messages": [{"role": "user", "content": "Only a question"}]},
        {
            "messages": [
                {"role": "user", "content": "Q"},
                {"role": "assistant", "content": "A"},
                {"role": "user", "content": "dangling"},
            ]
        },
    ]
    examples, read, skipped = read_examples(_jsonl(tmp_path / "chat.jsonl", rows))
    assert read == 3
    assert skipped == {"no_output": 1}
    first, third = examples
    assert isinstance(first, ChatExample)
    assert [role for role, _ in first.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    # a trailing user turn teaches nothing and is dropped
    assert isinstance(third, ChatExample) and third.messages == (("user", "Q"), ("assistant", "A"))


def test_bad_rows_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "ok", "output": "x"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(SeedFileError, match=r"bad.jsonl:2"):
        read_examples(path)
    path.write_text('{"output": "x"}\n', encoding="utf-8")
    with pytest.raises(SeedFileError, match="instruction"):
        read_examples(path)
    path.write_text('{"messages": [{"role": "robot", "content": "x"}]}\n', encoding="utf-8")
    with pytest.raises(SeedFileError, match="role"):
        read_examples(path)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="no such file"):
        read_examples(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="data format"):
        read_examples(tmp_path / "nope.jsonl", "csv")
