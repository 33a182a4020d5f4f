"""Counts of a run: rows per round, kept and dropped per operator, drop reasons, token use."""

from __future__ import annotations

import typing
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from attrs import field, frozen

from evolkit._fields import named_fields
from evolkit._types import Completion, Usage

__all__ = [
    "HEAVY_RULE_SHARE",
    "Drop",
    "RunStats",
    "StatsBuilder",
    "json_path",
    "rule_yield",
    "yield_warnings",
]

HEAVY_RULE_SHARE = 0.5
"""A rule that drops more than this share of a round's evolutions is worth a look."""


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
        fields = ("round", "parent_id", "operator", "stage", "filter", "reason", "text")
        return {**named_fields(self, *fields), "metadata": dict(self.metadata)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Drop:
        return cls(**{f.name: record[f.name] for f in attrs.fields(cls) if f.name in record})


def json_path(*path: str) -> dict[str, Any]:
    """Field metadata: the field is written under ``path`` in the JSON (by default its name)."""
    return {_JSON_PATH: path}


_JSON_PATH = "evolkit_json_path"
_converter = cattrs.Converter()


# Mappings are written with string keys in key order (JSON keys are strings; a round's number
# comes back as an int because the field says so).
def _is_mapping(type_: Any) -> bool:
    return typing.get_origin(type_) in (Mapping, dict)


_converter.register_unstructure_hook_func(
    _is_mapping, lambda m: {str(k): _converter.unstructure(v) for k, v in sorted(m.items())}
)


def _path(f: attrs.Attribute[Any]) -> tuple[str, ...]:
    return tuple(f.metadata.get(_JSON_PATH, (f.name,)))


@frozen(kw_only=True)
class RunStats:
    """A snapshot of a run's counts. ``to_json()`` is the machine-readable run report.

    Each count is declared once, here: :meth:`to_json`, :meth:`from_json` and
    :class:`StatsBuilder`'s restore and snapshot follow the fields (cattrs), so a new count is
    one field (plus, for a count the builder keeps, the builder attribute of the same name that
    counts it). A field's JSON key is its name unless its metadata nests it (``calls.sent``);
    a key missing from an older file reads as the field's default.
    """

    seeds: int = 0
    rounds: int = 0
    rows_per_round: Mapping[int, int] = field(factory=dict)
    attempted_per_operator: Mapping[str, int] = field(factory=dict)
    kept_per_operator: Mapping[str, int] = field(factory=dict)
    dropped_per_operator: Mapping[str, int] = field(factory=dict)
    drop_reasons: Mapping[str, int] = field(factory=dict)
    drops_per_stage: Mapping[str, int] = field(factory=dict)
    attempted_per_round: Mapping[int, int] = field(factory=dict)
    drops_per_filter: Mapping[str, int] = field(factory=dict)
    drops_per_round_filter: Mapping[str, int] = field(factory=dict)  # "round/filter"
    usage_per_model: Mapping[str, Usage] = field(factory=dict)
    usage_per_round: Mapping[int, Usage] = field(factory=dict)
    usage_per_operator: Mapping[str, Usage] = field(factory=dict)
    #: per ``"round/stage"`` (stage: mutate, respond, judge): calls made (journal hits too)
    calls_per_stage: Mapping[str, int] = field(factory=dict)
    usage_per_stage: Mapping[str, Usage] = field(factory=dict)
    calls_sent: int = field(default=0, metadata=json_path("calls", "sent"))
    journal_hits: int = field(default=0, metadata=json_path("calls", "journal_hits"))
    cache_hits: int = field(default=0, metadata=json_path("calls", "cache_hits"))
    retries: int = field(default=0, metadata=json_path("calls", "retries"))
    call_failures: int = field(default=0, metadata=json_path("calls", "failures"))
    #: Second tries of late calls on spare slots (engine/hedge.py); also in ``calls_sent``.
    hedged: int = field(default=0, metadata=json_path("calls", "hedged"))
    duplicate_seeds: int = 0
    seed_response_failures: int = 0
    elapsed_s: float = field(default=0.0, converter=float)
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
        """Every field under its JSON key, plus ``rows`` (the total, after ``rounds``)."""
        data: dict[str, Any] = {}
        for f in attrs.fields(attrs.resolve_types(type(self))):
            value = getattr(self, f.name)
            if f.name == "elapsed_s":
                value = round(value, 3)
            *parents, key = _path(f)
            where = data
            for parent in parents:
                where = where.setdefault(parent, {})
            where[key] = _converter.unstructure(value, f.type)
            if f.name == "rounds":
                data["rows"] = self.rows
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStats:
        """The stats of a :meth:`to_json` dictionary (``rows`` and unknown keys are ignored)."""
        flat: dict[str, Any] = {}
        for f in attrs.fields(attrs.resolve_types(cls)):
            value: Any = data
            for key in _path(f):
                value = (
                    value.get(key, attrs.NOTHING) if isinstance(value, Mapping) else attrs.NOTHING
                )
            if value is not attrs.NOTHING:
                flat[f.name] = value
        return _converter.structure(flat, cls)


class StatsBuilder:
    """The mutable side: the engine feeds it outcomes in commit order.

    Its counts are named as :class:`RunStats`'s fields: :meth:`restore` and :meth:`snapshot`
    copy every field the builder has an attribute for, and leave the others (the call
    counts, passed to :meth:`snapshot`) to their callers.
    """

    def __init__(self) -> None:
        self.seeds = 0
        self.seed_response_failures = 0
        self.rows_per_round: Counter[int] = Counter()
        self.attempted_per_operator: Counter[str] = Counter()
        self.kept_per_operator: Counter[str] = Counter()
        self.dropped_per_operator: Counter[str] = Counter()
        self.drop_reasons: Counter[str] = Counter()
        self.drops_per_stage: Counter[str] = Counter()
        self.attempted_per_round: Counter[int] = Counter()
        self.drops_per_filter: Counter[str] = Counter()
        self.drops_per_round_filter: Counter[str] = Counter()
        self.usage_per_model: dict[str, Usage] = {}
        self.usage_per_round: dict[int, Usage] = {}
        self.usage_per_operator: dict[str, Usage] = {}
        self.calls_per_stage: Counter[str] = Counter()
        self.usage_per_stage: dict[str, Usage] = {}

    def _kept_fields(self) -> list[str]:
        return [f.name for f in attrs.fields(RunStats) if f.name in vars(self)]

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> StatsBuilder:
        """A builder holding the counts of a saved :meth:`RunStats.to_json`."""
        stats = RunStats.from_json(data)
        builder = cls()
        for name in builder._kept_fields():
            mine, saved = getattr(builder, name), getattr(stats, name)
            if isinstance(mine, dict):
                mine.update(saved)
            else:
                setattr(builder, name, saved)
        return builder

    def add_usage(
        self, completion: Completion, round: int, operator: str, stage: str = "mutate"
    ) -> None:
        model = completion.model or "unknown"
        usage = completion.usage
        self.usage_per_model[model] = self.usage_per_model.get(model, Usage()) + usage
        self.usage_per_round[round] = self.usage_per_round.get(round, Usage()) + usage
        self.usage_per_operator[operator] = self.usage_per_operator.get(operator, Usage()) + usage
        where = f"{round}/{stage}"
        self.calls_per_stage[where] += 1
        self.usage_per_stage[where] = self.usage_per_stage.get(where, Usage()) + usage

    def keep(self, round: int, operator: str) -> None:
        self.rows_per_round[round] += 1
        if operator:
            self.attempted_per_operator[operator] += 1
            self.kept_per_operator[operator] += 1
            self.attempted_per_round[round] += 1

    def drop(self, drop: Drop) -> None:
        self.attempted_per_operator[drop.operator] += 1
        self.dropped_per_operator[drop.operator] += 1
        self.drop_reasons[drop.reason] += 1
        self.drops_per_stage[drop.stage] += 1
        self.attempted_per_round[drop.round] += 1
        self.drops_per_filter[drop.filter] += 1
        self.drops_per_round_filter[f"{drop.round}/{drop.filter}"] += 1

    def snapshot(self, rounds: int, **calls: Any) -> RunStats:
        """The counts now, with ``rounds`` and the counts in ``calls`` (``calls_sent``, ...)."""
        copies: dict[str, Any] = {}
        for name in self._kept_fields():
            value = getattr(self, name)
            copies[name] = dict(value) if isinstance(value, dict) else value
        return RunStats(rounds=rounds, **copies, **calls)


def rule_yield(stats: RunStats) -> list[tuple[str, int, float]]:
    """Per rule: evolutions it dropped and their share of all evolutions tried, most first."""
    tried = sum(stats.attempted_per_operator.values())
    rows = [(rule, n, n / tried if tried else 0.0) for rule, n in stats.drops_per_filter.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def yield_warnings(stats: RunStats, limit: float = HEAVY_RULE_SHARE) -> list[str]:
    """One line per round in which one rule dropped more than ``limit`` of the evolutions."""
    lines = []
    for key, dropped in sorted(stats.drops_per_round_filter.items()):
        round_text, _, rule = key.partition("/")
        tried = stats.attempted_per_round.get(int(round_text), 0)
        if tried and dropped / tried > limit:
            lines.append(
                f"warning: round {round_text}: {rule} dropped {dropped} of {tried} evolutions "
                f"({100 * dropped / tried:.0f}%); a rule that drops most of a round is usually "
                "the rule, not the model: read its drops (OUT.evolkit/drops-*.jsonl) before "
                "paying for more rounds"
            )
    return lines
