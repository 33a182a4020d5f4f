"""Scores read back from rows: means per round and per operator, and the run's score report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from evolkit._types import Instruction, Usage

__all__ = [
    "FAILURES_KEY",
    "SCORES_KEY",
    "ScoreReport",
    "ScoreTable",
    "TableBuilder",
    "row_scores",
    "score_table",
]

SCORES_KEY = "scores"
FAILURES_KEY = "score_failures"


def row_scores(row: Instruction) -> dict[str, float]:
    """The numeric scores stored in a row's metadata (``metadata["scores"]``)."""
    raw = row.metadata.get(SCORES_KEY)
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in raw.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


@frozen
class ScoreTable:
    """Mean of each score per round and per operator (``seed`` for round 0), with counts."""

    names: tuple[str, ...]
    per_round: Mapping[int, Mapping[str, tuple[float, int]]]
    per_operator: Mapping[str, Mapping[str, tuple[float, int]]]

    def __bool__(self) -> bool:
        return bool(self.names)

    def to_json(self) -> dict[str, Any]:
        def cells(group: Mapping[str, tuple[float, int]]) -> dict[str, dict[str, float]]:
            return {k: {"mean": round(m, 4), "n": n} for k, (m, n) in sorted(group.items())}

        return {
            "scores": list(self.names),
            "per_round": {str(r): cells(v) for r, v in sorted(self.per_round.items())},
            "per_operator": {o: cells(v) for o, v in sorted(self.per_operator.items())},
        }

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        def table(title: str, groups: Mapping[Any, Mapping[str, tuple[float, int]]]) -> Table:
            out = Table(title=title)
            out.add_column(title.split()[-1])
            for name in self.names:
                out.add_column(f"{name} (mean, n)", justify="right")
            for key, group in groups.items():
                label = ("seeds" if key == 0 else str(key)) if isinstance(key, int) else key
                out.add_row(
                    label,
                    *(
                        f"{group[n][0]:.2f} ({group[n][1]})" if n in group else "-"
                        for n in self.names
                    ),
                )
            return out

        rounds = dict(sorted(self.per_round.items()))
        operators = dict(sorted(self.per_operator.items()))
        return Group(table("scores per round", rounds), table("scores per operator", operators))


class TableBuilder:
    """Adds rows one at a time; :meth:`build` gives the :class:`ScoreTable` (memory: the cells)."""

    def __init__(self) -> None:
        self.rows = 0
        self._names: dict[str, None] = {}
        self._by_round: dict[int, dict[str, list[float]]] = {}
        self._by_operator: dict[str, dict[str, list[float]]] = {}

    def add(self, row: Instruction) -> None:
        self.rows += 1
        for name, value in row_scores(row).items():
            self._names.setdefault(name, None)
            for bucket in (
                self._by_round.setdefault(row.round, {}),
                self._by_operator.setdefault(row.operator or "seed", {}),
            ):
                cell = bucket.setdefault(name, [0.0, 0.0])
                cell[0] += value
                cell[1] += 1

    def build(self) -> ScoreTable:
        def means(sums: Mapping[str, list[float]]) -> dict[str, tuple[float, int]]:
            return {k: (total / count, int(count)) for k, (total, count) in sums.items() if count}

        return ScoreTable(
            names=tuple(self._names),
            per_round={r: means(v) for r, v in self._by_round.items()},
            per_operator={o: means(v) for o, v in self._by_operator.items()},
        )


def score_table(rows: Iterable[Instruction]) -> ScoreTable:
    """Means of every stored score per round and per operator, in one pass over ``rows``."""
    builder = TableBuilder()
    for row in rows:
        builder.add(row)
    return builder.build()


@frozen(kw_only=True)
class ScoreReport:
    """What ``evolkit score`` did: rows scored and failed per scorer, why, and what it cost."""

    rows: int
    scorers: tuple[str, ...]
    scored: Mapping[str, int] = field(factory=dict)
    failures: Mapping[str, Mapping[str, int]] = field(factory=dict)
    usage: Mapping[str, Usage] = field(factory=dict)
    calls: Mapping[str, int] = field(factory=dict)
    table: ScoreTable = field(factory=lambda: ScoreTable((), {}, {}))
    elapsed_s: float = 0.0
    output: str = ""

    @property
    def failed(self) -> int:
        """Scores that could not be given, over every scorer."""
        return sum(sum(reasons.values()) for reasons in self.failures.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scorers": list(self.scorers),
            "scored": dict(self.scored),
            "failures": {k: dict(v) for k, v in self.failures.items()},
            "usage": {
                k: {
                    "prompt_tokens": u.prompt_tokens,
                    "completion_tokens": u.completion_tokens,
                    "cost": u.cost,
                }
                for k, u in self.usage.items()
            },
            "calls": dict(self.calls),
            "means": self.table.to_json(),
            "elapsed_s": round(self.elapsed_s, 3),
            "output": self.output,
        }

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        counts = Table(title=f"scores of {self.rows} rows")
        for column in ("scorer", "scored", "failed", "why", "tokens", "cost"):
            counts.add_column(column, justify="left" if column in {"scorer", "why"} else "right")
        for name in self.scorers:
            reasons = self.failures.get(name, {})
            usage = self.usage.get(name, Usage())
            why = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
            counts.add_row(
                name,
                str(self.scored.get(name, 0)),
                str(sum(reasons.values())),
                why or "-",
                f"{usage.total_tokens:,}",
                f"${usage.cost:.4f}",
            )
        calls = self.calls
        footer = (
            f"{calls.get('sent', 0)} calls sent, {calls.get('journal_hits', 0)} resumed, "
            f"{calls.get('cache_hits', 0)} cached, {calls.get('retries', 0)} retries · "
            f"{self.elapsed_s:.1f}s"
        )
        return Group(counts, self.table, footer)
