"""Contamination against any benchmark file, and ``evolve --decontaminate`` (files written here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit.errors import ConfigError, SeedFileError
from evolkit.evaluate import check_contamination, load_benchmark
from evolkit.evaluate.decontaminate import DecontaminationFilter, with_decontamination
from evolkit.testing import FakeBackend, arun_filter

FIB = (
    "Write a function that returns the n-th Fibonacci number using only a loop and constant "
    "extra memory, for every n up to ninety."
)
HUMANEVAL = [
    {
        "task_id": "Bench/0",
        "prompt": 'def count_vowels(word):\n    """Count how many vowels appear in the given '
        'word, treating upper and lower case letters as the same vowel."""\n',
        "canonical_solution": "    return sum(c in 'aeiou' for c in word.lower())\n",
        "test": "assert count_vowels('Ab') == 1",
    },
    {
        "task_id": "Bench/1",
        "prompt": 'def is_even(n):\n    """Return True when n is even."""\n',
        "canonical_solution": "    return n % 2 == 0\n",
        "test": "assert is_even(2)",
    },
]
MATH = [
    {
        "problem": "What is the sum of all positive divisors of 36 that are also perfect "
        "squares, written as a single whole number?",
        "solution": "The square divisors are 1, 4, 9 and 36, so the sum is $\\boxed{50}$.",
        "level": "Level 2",
        "type": "Number Theory",
    }
]
MBPP = [{"task_id": 1, "text": FIB, "code": "def fib(n): ...", "test_list": []}]
CUSTOM = [{"qid": "a", "body": FIB}, {"qid": "b", "body": "Name the largest ocean on Earth."}]

ROWS: list[dict[str, Any]] = [
    {
        "id": "copies-humaneval",
        "instruction": "Count how many vowels appear in the given word, treating upper and "
        "lower case letters as the same vowel. Use Python.",
        "input": "",
        "output": "",
    },
    {
        "id": "copies-math",
        "instruction": "Solve: what is the sum of all positive divisors of 36 that are also "
        "perfect squares, written as a single whole number?",
        "output": "50",
    },
    {"id": "copies-mbpp", "instruction": FIB, "output": "def fib(n): ..."},
    {"id": "clean", "instruction": "Describe the water cycle for a ten-year-old.", "output": ""},
]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "name", "flagged"),
    [(HUMANEVAL, "HumanEval", "copies-humaneval"), (MATH, "MATH", "copies-math"),
     (MBPP, "MBPP", "copies-mbpp")],
)  # fmt: skip
def test_each_layout_is_recognised_and_checked(
    tmp_path: Path, rows: list[dict[str, Any]], name: str, flagged: str
) -> None:
    bench = write_jsonl(tmp_path / "bench.jsonl", rows)
    assert load_benchmark(bench).name == name
    report = check_contamination(ROWS, bench)
    assert report.benchmark == name and report.test_questions == len(rows)
    assert report.row_ids == {flagged}
    assert [r["id"] for r in report.clean(ROWS)] == [r["id"] for r in ROWS if r["id"] != flagged]


def test_any_jsonl_with_a_named_text_field_and_a_json_array(tmp_path: Path) -> None:
    bench = write_jsonl(tmp_path / "mine.jsonl", CUSTOM)
    with pytest.raises(ConfigError, match="--text-field"):
        check_contamination(ROWS, bench)
    report = check_contamination(ROWS, bench, text_field="body")
    assert report.row_ids == {"copies-mbpp"} and report.benchmark == "mine.jsonl"
    array = tmp_path / "mine.json"
    array.write_text(json.dumps(CUSTOM))
    assert check_contamination(ROWS, array, text_field="body").row_ids == {"copies-mbpp"}
    with pytest.raises(SeedFileError, match="no text in the field 'nope'"):
        load_benchmark(bench, text_field="nope")


def test_solutions_count_only_when_asked(tmp_path: Path) -> None:
    bench = write_jsonl(tmp_path / "he.jsonl", HUMANEVAL)
    rows = [{"id": "r", "instruction": "x", "output": "return sum(c in 'aeiou' for c in word"}]
    assert not check_contamination(rows, bench, n=6).hits
    assert check_contamination(rows, bench, n=6, include_solutions=True).row_ids == {"r"}


def test_embedding_overlap_flags_paraphrases(tmp_path: Path) -> None:
    bench = write_jsonl(tmp_path / "he.jsonl", HUMANEVAL)
    paraphrase = {"id": "para", "instruction": "How many vowels does a word have?", "output": ""}
    topics = {"vowel": [1.0, 0.0], "even": [0.0, 1.0]}

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return [next((v for k, v in topics.items() if k in t), [0.5, -0.5]) for t in texts]

    plain = check_contamination([paraphrase, ROWS[3]], bench)
    assert not plain.hits
    report = check_contamination([paraphrase, ROWS[3]], bench, embedding_threshold=0.9, embed=embed)
    (hit,) = report.hits
    assert hit.row_id == "para" and hit.method == "embedding" and hit.test_index == 0
    assert hit.similarity == pytest.approx(1.0)


def test_cli_benchmark_file_with_a_text_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolkit.cli import main

    data = write_jsonl(tmp_path / "data.jsonl", ROWS)
    bench = write_jsonl(tmp_path / "mine.jsonl", CUSTOM)
    clean = tmp_path / "clean.jsonl"
    args = ["eval", "contamination", str(data), "--benchmark", str(bench), "--text-field", "body"]
    assert main([*args, "--clean", str(clean)]) == 1
    assert "1 of 4 rows share 13-grams with 1 of 2 mine.jsonl test items" in capsys.readouterr().out
    assert len(clean.read_text().splitlines()) == 3
    he = write_jsonl(tmp_path / "he.jsonl", HUMANEVAL)
    assert main(["eval", "contamination", str(clean), "--benchmark", str(he)]) == 1
    assert main(["eval", "contamination", str(data), "--benchmark", str(bench)]) == 2


async def test_the_filter_drops_a_candidate_that_overlaps() -> None:
    flt = DecontaminationFilter(load_benchmark(MBPP))
    dropped = await _judge(flt, FIB + " Explain each step.")
    assert not dropped.keep and dropped.reason == "benchmark_overlap"
    assert (await _judge(flt, "Write a function that reverses a list.")).keep


async def _judge(flt: DecontaminationFilter, text: str) -> evolkit.Verdict:
    return await arun_filter(flt, text, "parent")


def test_evolve_decontaminate_drops_matching_rows_every_round(tmp_path: Path) -> None:
    bench = write_jsonl(tmp_path / "mbpp.jsonl", MBPP)
    seeds = [FIB, "Explain why the sea is salty.", "Give three tips for sleeping well."]
    plugins, names = with_decontamination(bench)
    assert names[-1] == "decontaminate" and "refusal" in names
    result = evolkit.evolve(
        seeds, rounds=2, backend=FakeBackend.default(), plugins=plugins, filters=names
    )
    assert result.stats.drop_reasons == {"benchmark_overlap": 2}  # FIB's rewrite, each round
    evolved = [row for row in result if row.round > 0]
    assert len(evolved) == 4 and all("Fibonacci" not in row.text for row in evolved)


def test_cli_evolve_decontaminate(tmp_path: Path) -> None:
    from evolkit.cli import main

    bench = write_jsonl(tmp_path / "mbpp.jsonl", MBPP)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(FIB + "\nExplain why the sea is salty.\n")
    out = tmp_path / "out.jsonl"
    args = ["evolve", str(seeds), "-o", str(out), "--model", "fake/x", "--rounds", "1"]
    assert main([*args, "--cache", "off", "-q", "--decontaminate", str(bench)]) == 0
    stats = json.loads((tmp_path / "out.jsonl.run.json").read_text())
    assert stats["stats"]["drop_reasons"] == {"benchmark_overlap": 1}
    assert "decontaminate" in stats["settings"]["filters_used"]
