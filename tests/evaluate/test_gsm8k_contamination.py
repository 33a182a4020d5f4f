"""N-gram overlap between an evolved data set and the GSM8K test set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction
from evolkit.errors import ConfigError
from evolkit.evaluate import check_contamination, load_gsm8k, normalize_words
from evolkit.evaluate._contamination import ngrams

TEST = [
    {
        "question": "A gardener plants 14 rows of tulips with 25 tulips in each row, and then "
        "gives 1,000 bulbs to her neighbour. How many tulips did she plant?",
        "answer": "She planted 14*25=<<14*25=350>>350 tulips.\n#### 350",
    },
    {
        "question": "Omar saves 12 dollars every week for a bicycle that costs 300 dollars. "
        "How many weeks must he save before he can buy the bicycle?",
        "answer": "He needs 300/12=<<300/12=25>>25 weeks.\n#### 25",
    },
    {
        "question": "What is 7 times 8?",
        "answer": "7*8=<<7*8=56>>56\n#### 56",
    },
]

ROWS: list[dict[str, Any]] = [
    {  # copies test question 0, with different case, punctuation and separators
        "id": "row-copy",
        "instruction": "a gardener plants 14 rows of tulips, with 25 tulips in each row and then "
        "gives 1000 bulbs to her neighbour! How many tulips did she plant?",
        "input": "",
        "output": "350",
    },
    {  # unrelated
        "id": "row-clean",
        "instruction": "Explain how photosynthesis turns light into chemical energy.",
        "input": "",
        "output": "Plants capture light with chlorophyll and store it in sugars.",
    },
    {  # the test question 1 hides in the output, padded by other text
        "id": "row-output",
        "instruction": "Write a word problem about saving money.",
        "input": "",
        "output": "Here is one: Omar saves 12 dollars every week for a bicycle that costs 300 "
        "dollars. How many weeks must he save? Good luck.",
    },
    {  # the short test question 2 appears whole
        "id": "row-short",
        "instruction": "Quick drill: what is 7 times 8? Then what is 9 times 9?",
        "input": "",
        "output": "56 and 81",
    },
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_normalisation() -> None:
    assert normalize_words("Tom's $1,450 <<2*3=6>>6 apples!") == ["tom", "s", "1450", "6", "apples"]
    assert ngrams(["a", "b", "c"], 2) == {("a", "b"), ("b", "c")}
    assert ngrams(["a"], 2) == set()


def test_flags_copied_rows_and_reports_overlap(tmp_path: Path) -> None:
    report = check_contamination(write(tmp_path / "d.jsonl", ROWS), load_gsm8k(TEST), n=8)
    by_id = {hit.row_id: hit for hit in report.hits}
    assert set(by_id) == {"row-copy", "row-output", "row-short"}
    assert report.row_ids == frozenset(by_id) and report.flagged == 3
    assert by_id["row-copy"].test_index == 0 and by_id["row-copy"].overlap == 1.0
    assert by_id["row-output"].test_index == 1 and 0.5 < by_id["row-output"].overlap < 1.0
    assert by_id["row-short"].test_index == 2
    assert by_id["row-short"].test_question.startswith("What")
    assert report.rows == 4 and report.test_questions == 3
    kept = report.clean(ROWS)
    assert [row["id"] for row in kept] == ["row-clean"]


def test_thirteen_grams_by_default_and_min_shared() -> None:
    report = check_contamination(ROWS, load_gsm8k(TEST))
    assert report.n == 13
    assert {hit.row_id for hit in report.hits} == {"row-copy", "row-output", "row-short"}
    strict = check_contamination(ROWS, load_gsm8k(TEST), min_shared=10)
    assert {hit.row_id for hit in strict.hits} == {"row-copy"}


def test_solutions_only_count_when_asked() -> None:
    rows = [{"id": "r", "instruction": "Show: she planted 14 25 350 tulips 350", "output": ""}]
    test = load_gsm8k(TEST)
    assert not check_contamination(rows, test, n=5).hits
    assert check_contamination(rows, test, n=5, include_solutions=True).hits


def test_instructions_and_rows_without_ids() -> None:
    rows: list[Any] = [
        Instruction(text=ROWS[0]["instruction"]),
        {"instruction": ROWS[0]["instruction"]},
    ]
    report = check_contamination(rows, load_gsm8k(TEST), n=8)
    assert [hit.row_id for hit in report.hits] == [Instruction(text=ROWS[0]["instruction"]).id, "1"]


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        check_contamination(ROWS, load_gsm8k(TEST), n=0)
    with pytest.raises(ConfigError):
        check_contamination(ROWS, load_gsm8k(TEST), min_shared=0)


def test_cli_lists_hits_and_writes_a_clean_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolkit.cli import main

    data = write(tmp_path / "data.jsonl", ROWS)
    test = write(tmp_path / "gsm8k_test.jsonl", TEST)
    hits = tmp_path / "hits.jsonl"
    clean = tmp_path / "clean.jsonl"
    code = main(
        [
            "eval",
            "contamination",
            str(data),
            "--gsm8k",
            str(test),
            "--ngram",
            "8",
            "-o",
            str(hits),
            "--clean",
            str(clean),
        ]
    )
    assert code == 1  # overlap found
    printed = capsys.readouterr().out
    assert "3 of 4 rows" in printed and "row-copy" in printed
    saved = [json.loads(line) for line in hits.read_text().splitlines()]
    assert {row["row_id"] for row in saved} == {"row-copy", "row-output", "row-short"}
    assert set(saved[0]) == {
        "row_index",
        "row_id",
        "test_index",
        "test_question",
        "shared_ngrams",
        "overlap",
        "method",
        "similarity",
    }
    assert {row["method"] for row in saved} == {"ngram"}
    assert [json.loads(line)["id"] for line in clean.read_text().splitlines()] == ["row-clean"]
    assert main(["eval", "contamination", str(clean), "--gsm8k", str(test)]) == 0
