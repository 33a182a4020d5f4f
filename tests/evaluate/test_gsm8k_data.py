"""Loading GSM8K: local files in the original layout, size checks, the hub path offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evolkit.errors import EvolkitError, MissingExtraError, SeedFileError
from evolkit.evaluate import (
    Generation,
    GSM8KData,
    GSM8KDataError,
    _data,
    get_style,
    load_gsm8k,
    score_generation,
    strip_calculator_notes,
)

# Problems written for these tests in the GSM8K layout: calculator notes, thousands separators.
ROWS = [
    {
        "question": "A library had 1,250 books. It got 3 boxes of 120 books each and gave away "
        "85 books. How many books does it have now?",
        "answer": "The boxes hold 3*120=<<3*120=360>>360 books.\n"
        "The library then has 1,250+360=<<1250+360=1610>>1,610 books.\n"
        "After giving some away it has 1610-85=<<1610-85=1525>>1,525 books.\n#### 1,525",
    },
    {
        "question": "Tom earns $15 an hour and works 6 hours a day for 5 days. How much does he "
        "earn?",
        "answer": "Each day he earns 15*6=$<<15*6=90>>90.\n"
        "In 5 days he earns 90*5=$<<90*5=450>>450.\n#### 450",
    },
    {
        "question": "A town of 1,200,000 people grows by 250,000. How many people live there now?",
        "answer": "It has 1,200,000+250,000=<<1200000+250000=1450000>>1,450,000 people.\n"
        "#### 1450000",
    },
    {
        "question": "A cake needs 3/4 cup of sugar. How many cups do 8 cakes need?",
        "answer": "They need 3/4*8=<<3/4*8=6>>6 cups.\n#### 6",
    },
    {
        "question": "A diver is 12 meters below the surface and rises 5 meters. How far below "
        "the surface is the diver now, as a negative number?",
        "answer": "The depth is -12+5=<<-12+5=-7>>-7 meters.\n#### -7",
    },
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_load_a_file_in_the_original_layout(tmp_path: Path) -> None:
    data = load_gsm8k(write_jsonl(tmp_path / "test.jsonl", ROWS))
    assert len(data) == 5
    assert [item.gold for item in data.items] == [1525, 450, 1450000, 6, -7]
    assert data.items[0].gold_text == "1,525"
    assert "<<3*120=360>>" in data.items[0].solution
    assert data.items[0].reasoning.endswith("1,525 books.")
    assert data.source.endswith("test.jsonl")


def test_size_difference_is_reported_not_raised(tmp_path: Path) -> None:
    data = load_gsm8k(write_jsonl(tmp_path / "test.jsonl", ROWS), limit=2)
    assert len(data) == 2
    assert len(data.warnings) == 1
    assert "5 questions" in data.warnings[0] and "1319" in data.warnings[0]
    train = load_gsm8k(write_jsonl(tmp_path / "train.jsonl", ROWS), split="train")
    assert "7473" in train.warnings[0]
    other = load_gsm8k(write_jsonl(tmp_path / "other.jsonl", ROWS), split="dev")
    assert other.warnings == ()


def test_full_size_split_has_no_warning() -> None:
    rows = [ROWS[1]] * 1319
    assert load_gsm8k(rows).warnings == ()
    assert load_gsm8k(rows, split="train").warnings != ()


def test_strip_calculator_notes(tmp_path: Path) -> None:
    assert strip_calculator_notes("48/2 = <<48/2=24>>24 clips") == "48/2 = 24 clips"
    data = load_gsm8k(write_jsonl(tmp_path / "t.jsonl", ROWS), strip_calculator=True)
    assert all("<<" not in item.solution for item in data.items)
    assert [item.gold for item in data.items] == [1525, 450, 1450000, 6, -7]
    again = load_gsm8k(load_gsm8k(ROWS), strip_calculator=True)
    assert all("<<" not in item.solution for item in again.items)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"question": "q"}), "'question' and 'answer'"),
        (json.dumps({"question": "q", "answer": "no final line"}), "#### N"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(SeedFileError, match=problem) as info:
        load_gsm8k(path)
    assert f"{path}:2" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="cannot open"):
        load_gsm8k(tmp_path / "nope.jsonl")


def test_negative_limit_is_refused() -> None:
    with pytest.raises(EvolkitError, match="limit"):
        load_gsm8k(ROWS, limit=-1)


@pytest.mark.parametrize("style", ["wizardmath", "gsm8k", "gsm8k_cot", "chat"])
@pytest.mark.parametrize("strip", [False, True])
def test_gold_solutions_score_100_percent_as_outputs(
    tmp_path: Path, style: str, strip: bool
) -> None:
    data = load_gsm8k(write_jsonl(tmp_path / "t.jsonl", ROWS), strip_calculator=strip)
    prompt_style = get_style(style)
    records = [
        score_generation(item, Generation(prompt="", outputs=(item.solution,)), prompt_style)
        for item in data.items
    ]
    assert all(record.correct for record in records)
    if style == "gsm8k":
        assert all(record.strict_correct and record.layer == "marker" for record in records)
        assert all(record.harness_strict for record in records)
    # The harness's flexible rule agrees on the gold solutions too.
    assert all(record.harness_flexible for record in records)


# ---------------------------------------------------------------------------------------------
# the hub path, kept real but tested without a network


def test_unreachable_hub_fails_fast_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datasets")
    import datasets

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(_data, "_hub_reachable", lambda timeout=3.0: False)

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load_dataset must not be called when the hub is unreachable")

    monkeypatch.setattr(datasets, "load_dataset", never)
    with pytest.raises(GSM8KDataError, match="--data FILE"):
        load_gsm8k()


def test_offline_mode_without_a_cache_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datasets")
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def offline(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(GSM8KDataError, match="HF_HUB_OFFLINE") as info:
        load_gsm8k()
    assert "--data FILE" in str(info.value)


def test_hub_path_calls_load_dataset_with_the_published_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("datasets")
    import datasets

    calls: list[tuple[Any, ...]] = []

    def fake_load(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        calls.append((*args, kwargs))
        return ROWS

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    data = load_gsm8k(split="test", limit=3)
    assert calls == [("openai/gsm8k", "main", {"split": "test"})]
    assert len(data) == 3 and data.source == "openai/gsm8k:test"
    assert data.warnings  # five rows are not the 1319 of the test split


def test_hub_path_without_datasets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingExtraError, match=r"evolkit\[eval\]"):
        load_gsm8k()


def test_loaded_data_passes_through() -> None:
    data = load_gsm8k(ROWS)
    assert isinstance(data, GSM8KData)
    assert load_gsm8k(data) is data
