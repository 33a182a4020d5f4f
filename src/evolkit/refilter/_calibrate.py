"""The eliminator measured on the user's labels (``evolkit filter OUT --labels LABELS``).

Every labelled evolution of the run, kept or dropped, is judged again by each rule on its own
(not stopping at an earlier rule's drop, so every rule is measured on every row), with the
engine's own :func:`~evolkit.refilter.refilter`. The whole eliminator drops a row when
any of the rules does. The run's own decisions are measured beside them (:func:`as_run`).
A dropped evolution keeps no answer in the run's files, so the rules that read the answer judge
it without one; a drop with no text (a failed call) and a seed are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from evolkit._protocols import Backend, Filter, Mutator
from evolkit._types import Instruction
from evolkit.refilter import refilter
from evolkit.view._agreement import (
    Agreement,
    Disagreement,
    agreement,
    as_run,
    disagreements,
    unknown_ids,
)
from evolkit.view._index import RowIndex
from evolkit.view._labels import Label

__all__ = ["Calibration", "calibrate"]


@frozen(kw_only=True)
class Calibration:
    """Each rule, the whole eliminator now and as the run decided, against the labels."""

    rules: tuple[Agreement, ...]
    eliminator: Agreement
    as_run: Agreement
    disagreements: tuple[Disagreement, ...]
    labelled: int  # rows with a keep or drop label
    not_judged: Mapping[str, int]  # why labelled rows were left out, with counts

    def to_json(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "eliminator": self.eliminator.to_json(),
            "as_run": self.as_run.to_json(),
            "rules": [rule.to_json() for rule in self.rules],
            "disagreements": [d.to_json() for d in self.disagreements],
            "not_judged": dict(self.not_judged),
        }


def _candidates(
    index: RowIndex, labels: Mapping[str, Label]
) -> tuple[list[Instruction], dict[str, int]]:
    skipped = {"unknown id": len(unknown_ids(index, labels)), "seed": 0, "drop without text": 0}
    out: list[Instruction] = []
    for id, label in labels.items():
        row = index.by_id.get(id)
        if row is None or label.label is None:
            continue
        if row.parent_id is None:
            skipped["seed"] += 1
            continue
        candidate = row.as_instruction()
        if candidate is None:
            skipped["drop without text"] += 1
            continue
        out.append(candidate)
    return out, {reason: n for reason, n in skipped.items() if n}


def calibrate(
    index: RowIndex,
    labels: Mapping[str, Label],
    filters: Sequence[Filter],
    *,
    backend: Backend | None = None,
    mutators: Mapping[str, Mutator] | None = None,
    concurrency: int = 8,
) -> Calibration:
    """Judge the labelled evolutions with each of ``filters`` and measure them (see module)."""
    candidates, not_judged = _candidates(index, labels)
    ids = [c.id for c in candidates]
    known = set(ids)
    parents = {c.parent_id for c in candidates if c.parent_id is not None} - known
    judged_rows = candidates + [index.by_id[p].row for p in sorted(parents) if p in index.by_id]
    rows = [r for r in judged_rows if r is not None]
    first_drop: dict[str, str | None] = dict.fromkeys(ids)
    per_rule: list[Agreement] = []
    for flt in filters:
        results = refilter(rows, [flt], backend=backend, mutators=mutators, concurrency=concurrency)
        dropped = {r.row.id: r.drop for r in results if r.row.id in known}
        for id, drop in dropped.items():
            if drop is not None and first_drop[id] is None:
                first_drop[id] = f"{drop.filter}: {drop.reason}"
        per_rule.append(
            agreement(flt.name, {id: d is not None for id, d in dropped.items()}, labels)
        )
    whole = agreement("eliminator", {id: r is not None for id, r in first_drop.items()}, labels)
    texts = {c.id: c.text for c in candidates}
    return Calibration(
        rules=tuple(per_rule),
        eliminator=whole,
        as_run=as_run(index, labels)[0],
        disagreements=tuple(disagreements(first_drop, labels, texts)),
        labelled=sum(label.label is not None for label in labels.values()),
        not_judged=not_judged,
    )
