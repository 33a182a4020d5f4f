"""Every row of a run, kept and dropped, in one index that pages, filters and walks lineage.

The run is read with the report's reader (:func:`evolkit.report._data.iter_rows`,
``iter_drops`` and ``read_summary``: the one reader of ``OUT``, ``OUT.run.json`` and the drops),
the kept rows in file order, then the drops round by round. :meth:`RowIndex.open` reads in a
thread of its own, so the first page is served while a large run is still being read
(:attr:`RowIndex.loaded` says when it is whole). A kept row keeps its id; a dropped evolution
has none in the run's files, so it gets ``drop-`` and a digest of its drop record, the same on
every read of the same files (two identical drop records are told apart by their place:
``drop-…-2``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._display import word_diff
from evolkit._types import Instruction, lineage_of
from evolkit.engine.stats import Drop, RunStats
from evolkit.report._data import RunData, iter_drops, iter_rows, read_summary
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
        if self.q and self.q.lower() not in row.text.lower() and self.q != row.id:
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


class RowIndex:
    """A run's rows for the view: paging, filtering, lineage with word diffs, facet counts.

    Rows are only ever appended (by one reader), so a query made meanwhile sees a consistent
    prefix of the run.
    """

    def __init__(
        self,
        stats: RunStats | None = None,
        settings: Mapping[str, Any] | None = None,
        output: Path | None = None,
    ) -> None:
        self.stats = stats if stats is not None else RunStats()
        self.settings: Mapping[str, Any] = settings or {}
        self.output = output
        self.rows: list[ViewRow] = []
        self.by_id: dict[str, ViewRow] = {}
        self._kept: dict[str, Instruction] = {}
        self._drop_ids: Counter[str] = Counter()
        self._per_round: dict[int, list[int]] = {}
        self._per_operator: dict[str, list[int]] = {}
        self._reasons: Counter[str] = Counter()
        self._rules: Counter[str] = Counter()
        self._scores: set[str] = set()
        self.loaded = False
        self.error: str | None = None

    @classmethod
    def from_run(cls, run: RunData) -> RowIndex:
        """The index of a run already read (a :class:`~evolkit.report.RunData`)."""
        index = cls(run.stats, run.settings, run.output)
        index._read(iter(run.rows), run.drops)
        return index

    @classmethod
    def load(cls, output: str | os.PathLike[str]) -> RowIndex:
        """The whole index of the run that wrote ``output``, read before it returns."""
        out = Path(output)
        index = cls(*read_summary(out), output=out)
        index._read(iter_rows(out), iter_drops(out))
        return index

    @classmethod
    def open(cls, output: str | os.PathLike[str]) -> RowIndex:
        """The index of the run at ``output``, read on in a thread after its first row.

        A missing or unreadable ``OUT`` is raised here; a fault further in the files ends the
        reading and is kept in :attr:`error`.
        """
        out = Path(output)
        index = cls(*read_summary(out), output=out)
        rows = iter_rows(out)
        first = next(rows, None)
        if first is not None:
            index.add_row(first)
        thread = threading.Thread(
            target=index._read, args=(rows, iter_drops(out)), name="evolkit-view-read", daemon=True
        )
        thread.start()
        return index

    def _read(self, rows: Iterator[Instruction], drops: Iterable[Drop]) -> None:
        try:
            for inst in rows:
                self.add_row(inst)
            for drop in drops:
                self.add_drop(drop)
        except Exception as exc:  # shown by the page; the rows read so far stay served
            self.error = str(exc) or type(exc).__name__
        finally:
            self.loaded = True

    def add_row(self, inst: Instruction) -> None:
        self._add(ViewRow(inst.id, inst))
        self._kept[inst.id] = inst
        self._scores.update(row_scores(inst))

    def add_drop(self, drop: Drop) -> None:
        base = drop_id(drop)
        self._drop_ids[base] += 1
        n = self._drop_ids[base]
        self._add(ViewRow(base if n == 1 else f"{base}-{n}", None, drop))
        self._reasons[drop.reason] += 1
        self._rules[drop.filter] += 1

    def _add(self, row: ViewRow) -> None:
        column = 0 if row.kept else 1
        self._per_round.setdefault(row.round, [0, 0])[column] += 1
        self._per_operator.setdefault(row.operator or "seed", [0, 0])[column] += 1
        self.by_id[row.id] = row
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def query(self, query: RowQuery, offset: int = 0, limit: int = 50) -> tuple[int, list[ViewRow]]:
        """How many rows match ``query``, and the page of them at ``offset``."""
        count = len(self.rows)
        if query == RowQuery():  # no filter: the page is a slice
            return count, self.rows[offset : min(offset + limit, count)]
        matched = [row for row in itertools.islice(self.rows, count) if query.matches(row)]
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
        spent = self.stats.usage_per_round.get(row.round)
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
        rows = len(self.rows)
        kept = len(self._kept)
        return {
            "rows": rows,
            "kept": kept,
            "loaded": self.loaded,
            "error": self.error,
            "rounds": _kept_share(dict(self._per_round)),
            "operators": _kept_share(dict(self._per_operator)),
            "reasons": dict(sorted(dict(self._reasons).items(), key=lambda kv: (-kv[1], kv[0]))),
            "rules": dict(sorted(dict(self._rules).items(), key=lambda kv: (-kv[1], kv[0]))),
            "scores": sorted(set(self._scores)),
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
