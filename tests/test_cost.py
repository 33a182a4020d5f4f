"""The forecast before a run and the budget during one, on the fake server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from evolkit._plugins import default_plugins
from evolkit.cost import BudgetExhausted, aforecast, prices_for
from evolkit.engine import aevolve
from fakeserver import FakeServer

MODEL = "openai/gpt-4o-mini"
TOPICS = [
    "the sky",
    "autumn rain",
    "a paperclip",
    "bicycle gears",
    "the water cycle",
    "a picnic",
    "cats and dogs",
    "volcanoes",
    "tides",
    "bread making",
    "chess openings",
    "solar panels",
    "bees",
    "rainbows",
    "glaciers",
    "coffee",
    "the moon",
    "compost",
    "kites",
    "maps",
]
VERBS = ["Explain", "Describe", "List facts about"]
SEEDS = [f"{verb} {topic}." for verb in VERBS for topic in TOPICS]  # 60 seeds

# The per-row rules only: the pool rule ``near_duplicate`` decides a row by the rows kept before
# it, so a pilot group (a fifth of the pool) keeps rows the whole pool drops, and the calls made
# below those rows are not the run's. With per-row rules every pilot call is one the run makes.
PER_ROW_FILTERS = [n for n in default_plugins().filters().defaults() if n != "near_duplicate"]


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    import litellm

    async with FakeServer() as s:
        yield s
    await litellm.close_litellm_async_clients()


def _params(server: FakeServer) -> dict[str, Any]:
    return {"api_base": server.url, "api_key": "test"}


async def test_forecast_is_within_a_fifth_of_the_run_that_follows(
    server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "data.jsonl"
    settings: dict[str, Any] = {
        "rounds": 2,
        "seed": 3,
        "concurrency": 8,
        "filters": PER_ROW_FILTERS,
    }
    forecast = await aforecast(
        SEEDS,
        output=out,
        model=MODEL,
        model_params=_params(server),
        pilot_share=0.25,
        **settings,
    )
    assert forecast.pilot_seeds == 15 and forecast.pilot_groups == 5
    assert {s.stage for s in forecast.stages} == {"mutate", "respond", "judge"}
    run = await aevolve(SEEDS, model=MODEL, model_params=_params(server), output=out, **settings)
    stats = run.stats
    actual_calls = sum(stats.calls_per_stage.values())
    assert forecast.calls == pytest.approx(actual_calls, rel=0.2)
    assert forecast.prompt_tokens == pytest.approx(stats.usage.prompt_tokens, rel=0.2)
    assert forecast.completion_tokens == pytest.approx(stats.usage.completion_tokens, rel=0.2)
    # The pilot's calls were journaled for the run: it paid only for the rest.
    assert stats.journal_hits == forecast.pilot_calls > 0
    assert stats.calls_sent == actual_calls - forecast.pilot_calls
    prices = prices_for(MODEL)
    assert forecast.batch_cost == pytest.approx(forecast.online_cost / 2, rel=1e-6)
    expected = prices.cost(stats.usage.prompt_tokens, stats.usage.completion_tokens)
    assert forecast.online_cost == pytest.approx(expected, rel=0.2)
    assert 0 <= forecast.margin_calls < 0.2 and 0 < forecast.margin_tokens < 0.2
    assert 0 < forecast.margin_cost < 0.2
    print(forecast.render())
    assert "95% margin" in forecast.render()


def _spent(out: Path) -> float:
    db = sqlite3.connect(out.with_name(out.name + ".evolkit") / "journal.sqlite")
    try:
        return sum(json.loads(row[0])["cost"] for row in db.execute("SELECT completion FROM calls"))
    finally:
        db.close()


async def test_max_cost_stops_before_the_budget_and_the_run_resumes(
    server: FakeServer, tmp_path: Path
) -> None:
    seeds = SEEDS[:24]
    kwargs: dict[str, Any] = {
        "rounds": 2,
        "seed": 1,
        "model": MODEL,
        "model_params": _params(server),
    }
    whole = tmp_path / "whole.jsonl"
    full = await aevolve(seeds, output=whole, **kwargs)
    total = full.stats.usage.cost
    assert total > 0
    budget = total / 2
    out = tmp_path / "capped.jsonl"
    with pytest.raises(BudgetExhausted, match="max-cost"):
        await aevolve(seeds, output=out, max_cost=budget, **kwargs)
    spent = _spent(out)
    assert 0 < spent <= budget
    resumed = await aevolve(seeds, output=out, **kwargs)
    assert out.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert resumed.stats.journal_hits > 0
    assert _spent(out) == pytest.approx(total, rel=1e-6)


def test_max_cost_on_the_command_line_exits_2_and_resumes(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS[:12]) + "\n", encoding="utf-8")
    out = tmp_path / "data.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with FakeServer().run_in_thread() as server:
        base = [
            sys.executable,
            "-m",
            "evolkit.cli",
            "evolve",
            str(seeds),
            "-o",
            str(out),
            "--model",
            MODEL,
            "--api-base",
            server.url,
            "--rounds",
            "1",
            "--cache",
            "off",
            "-q",
        ]
        capped = subprocess.run(
            [*base, "--max-cost", "0.0005"], env=env, capture_output=True, text=True, timeout=120
        )
        assert capped.returncode == 2
        assert "stopped before passing --max-cost $0.0005" in capped.stderr
        assert not out.exists()
        done = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) >= 12


def test_dry_run_prints_the_forecast_and_the_run_reuses_the_pilot(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    out = tmp_path / "data.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with FakeServer().run_in_thread() as server:
        base = [
            sys.executable,
            "-m",
            "evolkit.cli",
            "evolve",
            str(seeds),
            "-o",
            str(out),
            "--model",
            MODEL,
            "--api-base",
            server.url,
            "--rounds",
            "2",
            "--cache",
            "off",
            "--filters",
            ",".join(PER_ROW_FILTERS),
            "-q",
        ]
        dry = subprocess.run(
            [*base, "--dry-run", "--pilot-share", "0.2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dry.returncode == 0, dry.stderr
        assert not out.exists()
        pilot_requests = server.snapshot().requests
        run = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        run_requests = server.snapshot().requests - pilot_requests
    print(dry.stdout)
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("forecast for 60 seeds with openai/gpt-4o-mini (pilot: 12 seeds")
    assert [line.split()[:2] for line in lines[2:9]] == [
        ["0", "respond"],
        ["1", "mutate"],
        ["1", "respond"],
        ["1", "judge"],
        ["2", "mutate"],
        ["2", "respond"],
        ["2", "judge"],
    ]
    total = next(line for line in lines if line.startswith("total"))
    forecast_calls = float(total.split()[1].replace(",", ""))
    assert forecast_calls == pytest.approx(pilot_requests + run_requests, rel=0.2)
    report = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert report["stats"]["calls"]["journal_hits"] == pilot_requests
