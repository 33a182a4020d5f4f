from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolkit import Instruction
from evolkit.errors import SeedFileError
from evolkit.io import read_instructions, write_instructions

texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(lambda s: s.strip())
instructions = st.builds(
    Instruction,
    text=texts,
    input=st.text(st.characters(blacklist_categories=("Cs",))),
    response=st.none() | st.text(st.characters(blacklist_categories=("Cs",))),
    parent_id=st.none() | st.just("0123456789abcdef"),
    operator=st.none() | st.just("depth.deepen"),
    round=st.integers(0, 5),
    metadata=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@pytest.mark.parametrize("fmt,suffix", [("jsonl", ".jsonl"), ("json", ".json"), ("chat", ".jsonl")])
@given(rows=st.lists(instructions, max_size=6))
def test_round_trip_loses_nothing(
    tmp_path: Path, fmt: str, suffix: str, rows: list[Instruction]
) -> None:
    path = tmp_path / f"data{suffix}"
    write_instructions(path, rows, fmt)  # type: ignore[arg-type]
    assert list(read_instructions(path)) == rows


def test_text_format(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("First task.\n\n  Second task.  \n", encoding="utf-8")
    assert [i.text for i in read_instructions(path)] == ["First task.", "Second task."]
    out = tmp_path / "out.txt"
    write_instructions(out, read_instructions(path), "text")
    assert [i.text for i in read_instructions(out)] == ["First task.", "Second task."]


def test_alpaca_jsonl_and_text_key(tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text(
        json.dumps({"instruction": "Sort this.", "input": "3 1 2", "output": "1 2 3"})
        + "\n"
        + json.dumps({"text": "Name a prime."})
        + "\n",
        encoding="utf-8",
    )
    rows = list(read_instructions(path))
    assert rows[0].input == "3 1 2" and rows[0].response == "1 2 3"
    assert rows[1].text == "Name a prime."


@pytest.mark.parametrize(
    "content,line",
    [
        ('{"instruction": "ok"}\n{"instruction": \n', 2),
        ('{"instruction": "ok"}\n\n{"nothing": 1}\n', 3),
        ('{"instruction": "ok"}\n[1, 2]\n', 2),
        ('{"instruction": ""}\n', 1),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, content: str, line: int) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SeedFileError) as info:
        list(read_instructions(path))
    assert f"bad.jsonl:{line}" in str(info.value)


def test_json_must_be_array(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"instruction": "x"}', encoding="utf-8")
    with pytest.raises(SeedFileError, match="JSON array"):
        list(read_instructions(path))


def test_missing_file() -> None:
    with pytest.raises(SeedFileError, match="not found"):
        list(read_instructions("/nonexistent/seeds.jsonl"))


def test_written_files_get_the_umask_mode_and_a_rewrite_keeps_its_mode(tmp_path: Path) -> None:
    import os
    import stat

    from evolkit.io import atomic_writer

    umask = os.umask(0o022)
    os.umask(umask)
    fresh = tmp_path / "fresh.jsonl"
    with atomic_writer(fresh) as fh:
        fh.write("{}\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    fresh.chmod(0o640)
    with atomic_writer(fresh) as fh:
        fh.write("{}\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
