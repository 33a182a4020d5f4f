"""Every row of a run, kept and dropped, in one index that pages, filters and walks lineage.

The run is read by :func:`evolkit.report.load_run` (the one reader of ``OUT``, ``OUT.run.json``
and the drops). A kept row keeps its id; a dropped evolution has none in the run's files, so it
gets ``drop-`` and a digest of its drop record, the same on every read of the same files (two
identical drop records are told apart by their place: ``drop-…-2``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from evolkit._display import word_diff
from evolkit._types import Instruction, lineage_of
from evolkit.engine.stats import Drop
from evolkit.report import RunData, load_run
from evolkit.score import row_scores

__all__ = ["DROP_PREFIX", "RowIndex", "RowQuery", "ViewRow", "drop_id"]

DROP_PREFIX = "drop-"


def drop_id(drop: Drop) -> str:
    """The id a dropped evolution is shown and labelled under (see the module)."""
    record = json.dumps(drop.to_record(), sort_keys=True, ensure_ascii=False, default=str)
    return DROP_PREFIX + hashlib.sha256(record.encode("utf-8")).hexdigest()[:16]


@frozen
class ViewRow:
    """One row of the view: a kept instruction, or a dropped evolution with its drop."""

    id: str
    row: Instruction | None
    drop: Drop | None = None
    text_lower: str = field(default="", repr=False)

    @property
    def kept(self) -> bool:
        return self.drop is None

    @property
    def text(self) -> str:
        if self.row is not None:
            return self.row.text
        return (self.drop.text if self.drop is not None else None) or ""

    @property
    def round(self) -> int:
        return self.row.round if self.row is not None else self.drop.round if self.drop else 0

    @property
    def operator(self) -> str | None:
        return (
            self.row.operator if self.row is not None else self.drop.operator if self.drop else None
        )

    @property
    def parent_id(self) -> str | None:
        if self.row is not None:
            return self.row.parent_id
        return self.drop.parent_id if self.drop is not None else None

    def as_instruction(self) -> Instruction | None:
        """The row as an :class:`Instruction` a filter can judge (``None``: a drop with no text)."""
        if self.row is not None:
            return self.row
        if self.drop is None or not (self.drop.text or "").strip():
            return None
        return Instruction(
            text=self.drop.text or "",
            id=self.id,
            parent_id=self.drop.parent_id,
            operator=self.drop.operator,
            round=self.drop.round,
        )

    def brief(self) -> dict[str, Any]:
        """The table's cells for this row."""
        drop = self.drop
        return {
            "id": self.id,
            "round": self.round,
            "operator": self.operator,
            "kept": self.kept,
            "stage": drop.stage if drop else None,
            "filter": drop.filter if drop else None,
            "reason": drop.reason if drop else None,
            "text": self.text[:300],
            "scores": row_scores(self.row) if self.row is not None else {},
        }


@frozen(kw_only=True)
class RowQuery:
    """The table's filters; an unset field matches every row."""

    round: int | None = None
    operator: str | None = None
    kept: bool | None = None
    reason: str | None = None
    rule: str | None = None
    q: str | None = None
    score: str | None = None
    score_min: float | None = None
    score_max: float | None = None

    def matches(self, row: ViewRow) -> bool:
        if self.round is not None and row.round != self.round:
            return False
        if self.operator is not None and row.operator != self.operator:
            return False
        if self.kept is not None and row.kept != self.kept:
            return False
        drop = row.drop
        if self.reason is not None and (drop is None or drop.reason != self.reason):
            return False
        if self.rule is not None and (drop is None or drop.filter != self.rule):
            return False
        if self.q and self.q.lower() not in row.text_lower and self.q != row.id:
            return False
        return self._score_matches(row)

    def _score_matches(self, row: ViewRow) -> bool:
        if self.score is None:
            return True
        value = row_scores(row.row).get(self.score) if row.row is not None else None
        if value is None:
            return False
        if self.score_min is not None and value < self.score_min:
            return False
        return not (self.score_max is not None and value > self.score_max)


def _view_rows(run: RunData) -> Iterator[ViewRow]:
    """Per round: the kept rows in file order, then the drops in file order."""
    per_round: dict[int, list[ViewRow]] = {}
    for inst in run.rows:
        per_round.setdefault(inst.round, []).append(
            ViewRow(inst.id, inst, text_lower=inst.text.lower())
        )
    seen: dict[str, int] = {}
    for drop in run.drops:
        base = drop_id(drop)
        seen[base] = seen.get(base, 0) + 1
        id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        per_round.setdefault(drop.round, []).append(
            ViewRow(id, None, drop, text_lower=(drop.text or "").lower())
        )
    for r in sorted(per_round):
        yield from per_round[r]


class RowIndex:
    """A run's rows for the view: paging, filtering, lineage with word diffs, facet counts."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.rows: tuple[ViewRow, ...] = tuple(_view_rows(run))
        self.by_id: dict[str, ViewRow] = {row.id: row for row in self.rows}
        self._kept: dict[str, Instruction] = {inst.id: inst for inst in run.rows}

    @classmethod
    def load(cls, output: str | os.PathLike[str]) -> RowIndex:
        """The index of the run that wrote ``output`` (see :func:`evolkit.report.load_run`)."""
        return cls(load_run(output))

    def __len__(self) -> int:
        return len(self.rows)

    def query(self, query: RowQuery, offset: int = 0, limit: int = 50) -> tuple[int, list[ViewRow]]:
        """How many rows match ``query``, and the page of them at ``offset``."""
        matched = [row for row in self.rows if query.matches(row)]
        return len(matched), matched[offset : offset + limit]

    def lineage(self, id: str) -> list[ViewRow]:
        """The chain from the seed to row ``id``, seed first (a drop ends the chain)."""
        row = self.by_id.get(id)
        if row is None:
            return []
        if row.row is not None:
            return [self.by_id[inst.id] for inst in lineage_of(self._kept, id)]
        parents = lineage_of(self._kept, row.parent_id) if row.parent_id else []
        return [*(self.by_id[inst.id] for inst in parents), row]

    def detail(self, id: str, filters_used: Sequence[str] = ()) -> dict[str, Any] | None:
        """Everything the row's page shows: lineage with diffs, verdicts, scores, answer."""
        row = self.by_id.get(id)
        if row is None:
            return None
        chain = self.lineage(id)
        steps = []
        for k, step in enumerate(chain):
            parent = chain[k - 1] if k else None
            steps.append(
                {
                    **step.brief(),
                    "text": step.text,
                    "diff": word_diff(parent.text, step.text) if parent is not None else None,
                }
            )
        return {
            **row.brief(),
            "text": row.text,
            "input": row.row.input if row.row is not None else "",
            "answer": row.row.response if row.row is not None else None,
            "parent_id": row.parent_id,
            "metadata": dict(row.row.metadata) if row.row is not None else {},
            "verdicts": _verdicts(row, filters_used),
            "lineage": steps,
            "usage": self._usage(row),
        }

    def _usage(self, row: ViewRow) -> dict[str, Any]:
        """Tokens and cost: the row's own when its metadata holds them, else its round's."""
        own = row.row.metadata.get("usage") if row.row is not None else None
        if isinstance(own, Mapping):
            return {"scope": "row", **own}
        spent = self.run.stats.usage_per_round.get(row.round)
        if spent is None:
            return {"scope": "none"}
        return {
            "scope": f"round {row.round}",
            "prompt_tokens": spent.prompt_tokens,
            "completion_tokens": spent.completion_tokens,
            "cost": spent.cost,
        }

    def facets(self) -> dict[str, Any]:
        """The values each filter can take, with counts: rounds, operators, reasons, rules."""
        rounds: dict[int, list[int]] = {}
        operators: dict[str, list[int]] = {}
        reasons: dict[str, int] = {}
        rules: dict[str, int] = {}
        scores: set[str] = set()
        for row in self.rows:
            rounds.setdefault(row.round, [0, 0])[0 if row.kept else 1] += 1
            operators.setdefault(row.operator or "seed", [0, 0])[0 if row.kept else 1] += 1
            if row.drop is not None:
                reasons[row.drop.reason] = reasons.get(row.drop.reason, 0) + 1
                rules[row.drop.filter] = rules.get(row.drop.filter, 0) + 1
            elif row.row is not None:
                scores.update(row_scores(row.row))
        return {
            "rows": len(self.rows),
            "kept": sum(row.kept for row in self.rows),
            "rounds": _kept_share(rounds),
            "operators": _kept_share(operators),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            "rules": dict(sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))),
            "scores": sorted(scores),
        }


def _kept_share(counts: Mapping[Any, list[int]]) -> list[dict[str, Any]]:
    return [
        {"name": key, "kept": k, "dropped": d, "share": k / (k + d) if k + d else None}
        for key, (k, d) in sorted(counts.items(), key=lambda kv: str(kv[0]).zfill(6))
    ]


def _verdicts(row: ViewRow, filters_used: Iterable[str]) -> list[dict[str, Any]]:
    """The verdicts the run's files record: the drop's, else a keep for every rule it passed."""
    if row.drop is not None:
        drop = row.drop
        return [
            {
                "filter": drop.filter,
                "keep": False,
                "stage": drop.stage,
                "reason": drop.reason,
                "metadata": dict(drop.metadata),
            }
        ]
    if row.row is None or row.row.is_seed:
        return []
    metadata = row.row.metadata
    return [
        {
            "filter": name,
            "keep": True,
            "stage": "filter",
            "reason": "kept",
            "metadata": metadata.get(name) if isinstance(metadata.get(name), Mapping) else {},
        }
        for name in filters_used
    ]
