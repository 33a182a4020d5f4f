"""Run statistics: the run.json / state.json layout, and counts declared once."""

from __future__ import annotations

import json
from collections.abc import Mapping

from attrs import field, frozen

from evolkit._types import Completion, Usage
from evolkit.engine.stats import (
    Drop,
    RunStats,
    StatsBuilder,
    json_path,
    rule_yield,
    yield_warnings,
)


def _builder() -> StatsBuilder:
    builder = StatsBuilder()
    builder.seeds = 2
    builder.seed_response_failures = 1
    builder.keep(0, "")
    builder.keep(1, "depth.deepen")
    builder.drop(Drop(1, "p1", "breadth.mutate", "filter", "refusal", "refusal"))
    for round in (1, 10):
        builder.add_usage(Completion("x", Usage(3, 4, 0.5), "m"), round, "depth.deepen")
    return builder


CALLS = {
    "calls_sent": 5,
    "journal_hits": 1,
    "retries": 2,
    "call_failures": 1,
    "elapsed_s": 1.5,
    "failures": {"timeout": 1},
    "failure_examples": {"timeout": "the call timed out after 60 s"},
}

# The layout that the report, the data card and `evolkit stats` read: keep it.
LAYOUT = {
    "seeds": 2,
    "rounds": 1,
    "rows": 2,
    "rows_per_round": {"0": 1, "1": 1},
    "attempted_per_operator": {"breadth.mutate": 1, "depth.deepen": 1},
    "kept_per_operator": {"depth.deepen": 1},
    "dropped_per_operator": {"breadth.mutate": 1},
    "drop_reasons": {"refusal": 1},
    "drops_per_stage": {"filter": 1},
    "attempted_per_round": {"1": 2},
    "drops_per_filter": {"refusal": 1},
    "drops_per_round_filter": {"1/refusal": 1},
    "usage_per_model": {"m": {"prompt_tokens": 6, "completion_tokens": 8, "cost": 1.0}},
    "usage_per_round": {
        "1": {"prompt_tokens": 3, "completion_tokens": 4, "cost": 0.5},
        "10": {"prompt_tokens": 3, "completion_tokens": 4, "cost": 0.5},
    },
    "usage_per_operator": {
        "depth.deepen": {"prompt_tokens": 6, "completion_tokens": 8, "cost": 1.0}
    },
    "calls_per_stage": {"1/mutate": 1, "10/mutate": 1},
    "usage_per_stage": {
        "1/mutate": {"prompt_tokens": 3, "completion_tokens": 4, "cost": 0.5},
        "10/mutate": {"prompt_tokens": 3, "completion_tokens": 4, "cost": 0.5},
    },
    "calls": {
        "sent": 5,
        "journal_hits": 1,
        "cache_hits": 0,
        "retries": 2,
        "failures": 1,
        "hedged": 0,
    },
    "duplicate_seeds": 0,
    "seed_response_failures": 1,
    "elapsed_s": 1.5,
    "failures": {"timeout": 1},
    "failure_examples": {"timeout": "the call timed out after 60 s"},
}


def test_the_json_layout_is_unchanged() -> None:
    data = _builder().snapshot(1, **CALLS).to_json()
    assert data == LAYOUT
    assert list(data) == list(LAYOUT)  # key order too (diffs of run.json stay readable)
    assert json.loads(json.dumps(data)) == data


def test_stats_round_trip_through_json_and_through_the_builder() -> None:
    stats = _builder().snapshot(1, **CALLS)
    assert RunStats.from_json(json.loads(json.dumps(stats.to_json()))) == stats
    restored = StatsBuilder.restore(stats.to_json())
    assert restored.snapshot(1, **CALLS) == stats
    assert restored.usage_per_round[10] == Usage(3, 4, 0.5)  # round numbers come back as ints


def test_an_older_file_without_the_newer_keys_reads_with_defaults() -> None:
    old = {k: v for k, v in LAYOUT.items() if k not in {"drops_per_stage", "usage_per_stage"}}
    old["calls"] = {"sent": 5}
    stats = RunStats.from_json(old)
    assert stats.drops_per_stage == {} and stats.usage_per_stage == {}
    assert (stats.calls_sent, stats.retries) == (5, 0)
    assert stats.rows == 2


@frozen(kw_only=True)
class _WithNewCounts(RunStats):
    """RunStats with two new counts, declared as a new counter is: one field each."""

    widgets_per_round: Mapping[int, Usage] = field(factory=dict)
    calls_throttled: int = field(default=0, metadata=json_path("calls", "throttled"))


def test_a_new_count_round_trips_with_no_other_edit() -> None:
    stats = _WithNewCounts(
        seeds=1, widgets_per_round={3: Usage(1, 2, 0.25)}, calls_throttled=4, calls_sent=9
    )
    data = json.loads(json.dumps(stats.to_json()))
    assert data["widgets_per_round"] == {
        "3": {"prompt_tokens": 1, "completion_tokens": 2, "cost": 0.25}
    }
    assert data["calls"]["throttled"] == 4 and data["calls"]["sent"] == 9
    assert _WithNewCounts.from_json(data) == stats
    assert RunStats.from_json(data) == RunStats(seeds=1, calls_sent=9)  # older readers skip it


def _round_with(drops: dict[str, int], kept: int, round: int = 1) -> StatsBuilder:
    builder = StatsBuilder()
    for _ in range(kept):
        builder.keep(round, "depth.deepen")
    for rule, n in drops.items():
        for i in range(n):
            builder.drop(Drop(round, f"p{i}", "depth.deepen", "filter", rule, f"{rule}_reason"))
    return builder


def test_yield_per_rule_is_each_rules_share_of_the_evolutions_tried() -> None:
    stats = _round_with({"growth": 3, "refusal": 1}, kept=6).snapshot(1)
    assert rule_yield(stats) == [("growth", 3, 0.3), ("refusal", 1, 0.1)]
    assert stats.attempted_per_round == {1: 10}


def test_a_rule_that_drops_more_than_half_of_a_round_is_warned_about() -> None:
    builder = _round_with({"growth": 6}, kept=4)
    for _ in range(9):  # round 2 is healthy: one drop in ten
        builder.keep(2, "breadth.mutate")
    builder.drop(Drop(2, "q", "breadth.mutate", "filter", "refusal", "refusal"))
    (line,) = yield_warnings(builder.snapshot(2))
    assert line.startswith("warning: round 1: growth dropped 6 of 10 evolutions (60%)")
    assert "drops-*.jsonl" in line


def test_exactly_half_is_not_warned_about() -> None:
    assert yield_warnings(_round_with({"growth": 5}, kept=5).snapshot(1)) == []
    assert yield_warnings(StatsBuilder().snapshot(0)) == []
