from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evolkit.cli import main

BUILTIN_OPERATORS = [
    "depth.add_constraints",
    "depth.deepen",
    "depth.concretize",
    "depth.increase_reasoning",
    "depth.complicate_input",
    "breadth.mutate",
]
BUILTIN_FILTERS = ["template_leak", "refusal", "stopwords", "information_gain"]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.jsonl"
    rows = [
        {"instruction": "Explain how a rainbow forms."},
        {"instruction": "Sort these numbers.", "input": "5, 3, 9, 1"},
        {"instruction": "Write a limerick about a cat."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evolve_writes_lineage(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "evolve",
            str(seeds),
            "-o",
            str(out),
            "--model",
            "fake/demo",
            "--rounds",
            "2",
            "--seed",
            "3",
            "--cache",
            "off",
            "--progress",
            "quiet",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    ids = {r["id"] for r in rows}
    evolved = [r for r in rows if r["round"] > 0]
    assert evolved
    for r in evolved:
        assert r["parent_id"] in ids and r["operator"] in BUILTIN_OPERATORS and r["round"] <= 2
        assert r["output"]
    assert "rows per round" in capsys.readouterr().out

    assert main(["stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == len(rows) and stats["seeds"] == 3

    alpaca = tmp_path / "alpaca.json"
    assert main(["export", str(out), "--format", "alpaca", "-o", str(alpaca)]) == 0
    assert len(json.loads(alpaca.read_text())) == len(rows)


def test_plugins_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [o["name"] for o in data["operators"] if o["package"] == "evolkit"]
    assert set(BUILTIN_OPERATORS) <= set(names)
    assert set(BUILTIN_FILTERS) <= {f["name"] for f in data["filters"]}
    assert {"litellm", "fake"} <= {b["name"] for b in data["backends"]}
    assert "default_model" in data
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in BUILTIN_OPERATORS + BUILTIN_FILTERS)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evolkit.cli", *args], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "content,expected",
    [
        ('{"instruction": "fine"}\n{"instruction": oops}\n', "seeds.jsonl:2: invalid JSON"),
        ('{"title": "no instruction key"}\n', "seeds.jsonl:1: no known layout"),
    ],
)
def test_bad_seed_file_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(content, encoding="utf-8")
    proc = _run(
        "evolve", str(seeds), "-o", str(tmp_path / "o.jsonl"), "--model", "fake/x", "--cache", "off"
    )
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seeds.jsonl"]  # nothing written


def test_unknown_operator_is_one_line(tmp_path: Path, seeds: Path) -> None:
    proc = _run(
        "evolve",
        str(seeds),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        "fake/x",
        "--operators",
        "depth.deepenn",
        "--cache",
        "off",
    )
    assert proc.returncode == 2
    assert "unknown operator 'depth.deepenn'" in proc.stderr and "depth.deepen" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_seed_file(tmp_path: Path) -> None:
    proc = _run(
        "evolve", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--model", "fake/x"
    )
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_help_names_default_model() -> None:
    proc = _run("evolve", "--help")
    assert proc.returncode == 0 and "Default model" in proc.stdout


def test_every_evolve_option_lands_in_the_one_run_config(tmp_path: Path) -> None:
    from evolkit.cli import _config_from_args, build_parser

    args = build_parser().parse_args(
        [
            "evolve", "seeds.jsonl", "-o", "out.jsonl", "--rounds", "2", "--seed", "5",
            "--concurrency", "3", "--operators", "depth=2,breadth", "--filters", "refusal",
            "--no-respond", "--respond-system", "End with DONE.", "--temperature", "0.2",
            "--retries", "1", "--timeout", "9", "--rpm", "60", "--tpm", "9000",
            "--cache", str(tmp_path / "c.sqlite"),
        ]
    )  # fmt: skip
    config = _config_from_args(args)
    assert (config.rounds, config.seed, config.concurrency) == (2, 5, 3)
    assert config.operators == {"depth": 2.0, "breadth": 1.0}
    assert config.filters == ("refusal",)
    assert config.respond is False
    assert config.respond_system == "End with DONE."
    assert config.mutate_params["temperature"] == config.respond_params["temperature"] == 0.2
    assert (config.retries, config.timeout, config.rpm, config.tpm) == (1, 9.0, 60.0, 9000.0)
    assert config.cache == tmp_path / "c.sqlite"


def test_stats_shows_yield_per_rule_and_warns_about_a_heavy_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolkit.engine.stats import Drop, StatsBuilder

    builder = StatsBuilder()
    for _ in range(3):
        builder.keep(1, "depth.deepen")
    for i in range(7):
        builder.drop(Drop(1, f"p{i}", "depth.deepen", "filter", "growth", "runaway_growth"))
    out = tmp_path / "out.jsonl"
    out.write_text("", encoding="utf-8")
    out.with_name("out.jsonl.run.json").write_text(
        json.dumps({"stats": builder.snapshot(1).to_json()}), encoding="utf-8"
    )
    assert main(["stats", str(out)]) == 0
    captured = capsys.readouterr()
    assert "yield per rule" in captured.out and "growth" in captured.out
    assert "70%" in captured.out  # growth dropped 7 of the 10 evolutions tried
    assert "warning: round 1: growth dropped 7 of 10 evolutions (70%)" in captured.err
