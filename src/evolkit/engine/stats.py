"""Counts of a run: rows per round, kept and dropped per operator, drop reasons, token use."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen

from evolkit._types import Completion, Usage

__all__ = ["Drop", "RunStats", "StatsBuilder"]


@frozen
class Drop:
    """One evolution that did not survive: where it failed and why."""

    round: int
    parent_id: str
    operator: str
    stage: str  # "mutate", "parse", "dedupe", "respond" or "filter"
    filter: str
    reason: str
    text: str | None = None
    metadata: Mapping[str, Any] = field(factory=dict, converter=dict, kw_only=True)

    def to_record(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "parent_id": self.parent_id,
            "operator": self.operator,
            "stage": self.stage,
            "filter": self.filter,
            "reason": self.reason,
            "text": self.text,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Drop:
        return cls(**{f.name: record[f.name] for f in attrs.fields(cls) if f.name in record})


def _usage_dict(data: Mapping[str, Usage]) -> dict[str, dict[str, float]]:
    return {
        k: {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "cost": u.cost,
        }
        for k, u in sorted(data.items())
    }


@frozen(kw_only=True)
class RunStats:
    """A snapshot of a run's counts. ``to_json()`` is the machine-readable run report."""

    seeds: int = 0
    rounds: int = 0
    rows_per_round: Mapping[int, int] = field(factory=dict)
    attempted_per_operator: Mapping[str, int] = field(factory=dict)
    kept_per_operator: Mapping[str, int] = field(factory=dict)
    dropped_per_operator: Mapping[str, int] = field(factory=dict)
    drop_reasons: Mapping[str, int] = field(factory=dict)
    drops_per_stage: Mapping[str, int] = field(factory=dict)
    usage_per_model: Mapping[str, Usage] = field(factory=dict)
    usage_per_round: Mapping[int, Usage] = field(factory=dict)
    usage_per_operator: Mapping[str, Usage] = field(factory=dict)
    #: per ``"round/stage"`` (stage: mutate, respond, judge): calls made (journal hits too)
    calls_per_stage: Mapping[str, int] = field(factory=dict)
    usage_per_stage: Mapping[str, Usage] = field(factory=dict)
    calls_sent: int = 0
    journal_hits: int = 0
    cache_hits: int = 0
    retries: int = 0
    call_failures: int = 0
    duplicate_seeds: int = 0
    seed_response_failures: int = 0
    elapsed_s: float = 0.0
    #: Calls that failed past their retries (and plugin errors), per cause, with one example.
    failures: Mapping[str, int] = field(factory=dict)
    failure_examples: Mapping[str, str] = field(factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_per_round.values())

    @property
    def kept(self) -> int:
        return sum(self.kept_per_operator.values())

    @property
    def dropped(self) -> int:
        return sum(self.dropped_per_operator.values())

    @property
    def usage(self) -> Usage:
        total = Usage()
        for u in self.usage_per_model.values():
            total = total + u
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "rounds": self.rounds,
            "rows": self.rows,
            "rows_per_round": {str(k): v for k, v in sorted(self.rows_per_round.items())},
            "attempted_per_operator": dict(sorted(self.attempted_per_operator.items())),
            "kept_per_operator": dict(sorted(self.kept_per_operator.items())),
            "dropped_per_operator": dict(sorted(self.dropped_per_operator.items())),
            "drop_reasons": dict(sorted(self.drop_reasons.items())),
            "drops_per_stage": dict(sorted(self.drops_per_stage.items())),
            "usage_per_model": _usage_dict(self.usage_per_model),
            "usage_per_round": _usage_dict({str(k): v for k, v in self.usage_per_round.items()}),
            "usage_per_operator": _usage_dict(self.usage_per_operator),
            "calls_per_stage": dict(sorted(self.calls_per_stage.items())),
            "usage_per_stage": _usage_dict(self.usage_per_stage),
            "calls": {
                "sent": self.calls_sent,
                "journal_hits": self.journal_hits,
                "cache_hits": self.cache_hits,
                "retries": self.retries,
                "failures": self.call_failures,
            },
            "duplicate_seeds": self.duplicate_seeds,
            "seed_response_failures": self.seed_response_failures,
            "elapsed_s": round(self.elapsed_s, 3),
            "failures": dict(sorted(self.failures.items())),
            "failure_examples": dict(sorted(self.failure_examples.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStats:
        def usage(m: Mapping[str, Any]) -> dict[str, Usage]:
            return {
                k: Usage(int(v["prompt_tokens"]), int(v["completion_tokens"]), float(v["cost"]))
                for k, v in m.items()
            }

        calls = data.get("calls", {})
        return cls(
            seeds=data["seeds"],
            rounds=data["rounds"],
            rows_per_round={int(k): v for k, v in data["rows_per_round"].items()},
            attempted_per_operator=data["attempted_per_operator"],
            kept_per_operator=data["kept_per_operator"],
            dropped_per_operator=data["dropped_per_operator"],
            drop_reasons=data["drop_reasons"],
            drops_per_stage=data.get("drops_per_stage", {}),
            usage_per_model=usage(data["usage_per_model"]),
            usage_per_round={int(k): v for k, v in usage(data["usage_per_round"]).items()},
            usage_per_operator=usage(data["usage_per_operator"]),
            calls_per_stage=dict(data.get("calls_per_stage", {})),
            usage_per_stage=usage(data.get("usage_per_stage", {})),
            calls_sent=calls.get("sent", 0),
            journal_hits=calls.get("journal_hits", 0),
            cache_hits=calls.get("cache_hits", 0),
            retries=calls.get("retries", 0),
            call_failures=calls.get("failures", 0),
            duplicate_seeds=data.get("duplicate_seeds", 0),
            seed_response_failures=data.get("seed_response_failures", 0),
            elapsed_s=data.get("elapsed_s", 0.0),
            failures=data.get("failures", {}),
            failure_examples=data.get("failure_examples", {}),
        )


class StatsBuilder:
    """The mutable side: the engine feeds it outcomes in commit order."""

    def __init__(self) -> None:
        self.seeds = 0
        self.seed_response_failures = 0
        self.rows_per_round: Counter[int] = Counter()
        self.attempted: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.stages: Counter[str] = Counter()
        self.usage_model: dict[str, Usage] = {}
        self.usage_round: dict[int, Usage] = {}
        self.usage_operator: dict[str, Usage] = {}
        self.calls_stage: Counter[str] = Counter()
        self.usage_stage: dict[str, Usage] = {}

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> StatsBuilder:
        """A builder holding the counts of a saved :meth:`RunStats.to_json`."""
        stats = RunStats.from_json(data)
        builder = cls()
        builder.seeds = stats.seeds
        builder.seed_response_failures = stats.seed_response_failures
        builder.rows_per_round.update(stats.rows_per_round)
        builder.attempted.update(stats.attempted_per_operator)
        builder.kept.update(stats.kept_per_operator)
        builder.dropped.update(stats.dropped_per_operator)
        builder.reasons.update(stats.drop_reasons)
        builder.stages.update(stats.drops_per_stage)
        builder.usage_model.update(stats.usage_per_model)
        builder.usage_round.update(stats.usage_per_round)
        builder.usage_operator.update(stats.usage_per_operator)
        builder.calls_stage.update(stats.calls_per_stage)
        builder.usage_stage.update(stats.usage_per_stage)
        return builder

    def add_usage(
        self, completion: Completion, round: int, operator: str, stage: str = "mutate"
    ) -> None:
        model = completion.model or "unknown"
        usage = completion.usage
        self.usage_model[model] = self.usage_model.get(model, Usage()) + usage
        self.usage_round[round] = self.usage_round.get(round, Usage()) + usage
        self.usage_operator[operator] = self.usage_operator.get(operator, Usage()) + usage
        where = f"{round}/{stage}"
        self.calls_stage[where] += 1
        self.usage_stage[where] = self.usage_stage.get(where, Usage()) + usage

    def keep(self, round: int, operator: str) -> None:
        self.rows_per_round[round] += 1
        if operator:
            self.attempted[operator] += 1
            self.kept[operator] += 1

    def drop(self, drop: Drop) -> None:
        self.attempted[drop.operator] += 1
        self.dropped[drop.operator] += 1
        self.reasons[drop.reason] += 1
        self.stages[drop.stage] += 1

    def snapshot(self, rounds: int, **calls: Any) -> RunStats:
        return RunStats(
            seeds=self.seeds,
            rounds=rounds,
            rows_per_round=dict(self.rows_per_round),
            attempted_per_operator=dict(self.attempted),
            kept_per_operator=dict(self.kept),
            dropped_per_operator=dict(self.dropped),
            drop_reasons=dict(self.reasons),
            drops_per_stage=dict(self.stages),
            usage_per_model=dict(self.usage_model),
            usage_per_round=dict(self.usage_round),
            usage_per_operator=dict(self.usage_operator),
            calls_per_stage=dict(self.calls_stage),
            usage_per_stage=dict(self.usage_stage),
            seed_response_failures=self.seed_response_failures,
            **calls,
        )
