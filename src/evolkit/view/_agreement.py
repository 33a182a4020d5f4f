"""How well the eliminator agrees with the user's labels: precision and recall of dropping.

A drop is the positive call: a rule's *precision* is the share of the rows it dropped that the
user labelled ``drop``, its *recall* the share of the rows labelled ``drop`` that it dropped.
Only rows labelled ``keep`` or ``drop`` count; a note alone is no label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from evolkit._fields import named_fields
from evolkit.view._index import RowIndex
from evolkit.view._labels import Label

__all__ = [
    "Agreement",
    "Disagreement",
    "agreement",
    "as_run",
    "disagreements",
    "run_disagreements",
    "unknown_ids",
]


@frozen
class Agreement:
    """One judge (a rule, or the whole eliminator) against the labels it saw."""

    name: str
    true_drops: int  # it dropped, the user said drop
    false_drops: int  # it dropped, the user said keep
    missed_drops: int  # it kept, the user said drop
    true_keeps: int  # it kept, the user said keep

    @property
    def judged(self) -> int:
        return self.true_drops + self.false_drops + self.missed_drops + self.true_keeps

    @property
    def agreed(self) -> int:
        return self.true_drops + self.true_keeps

    @property
    def precision(self) -> float | None:
        dropped = self.true_drops + self.false_drops
        return self.true_drops / dropped if dropped else None

    @property
    def recall(self) -> float | None:
        labelled_drop = self.true_drops + self.missed_drops
        return self.true_drops / labelled_drop if labelled_drop else None

    def to_json(self) -> dict[str, Any]:
        counts = ("judged", "agreed", "true_drops", "false_drops", "missed_drops", "true_keeps")
        return named_fields(self, "name", *counts, "precision", "recall")


def agreement(name: str, dropped: Mapping[str, bool], labels: Mapping[str, Label]) -> Agreement:
    """``dropped`` (row id → whether the judge dropped it) against ``labels``."""
    counts = {(True, "drop"): 0, (True, "keep"): 0, (False, "drop"): 0, (False, "keep"): 0}
    for id, was_dropped in dropped.items():
        label = labels.get(id)
        if label is not None and label.label is not None:
            counts[(was_dropped, label.label)] += 1
    return Agreement(
        name,
        true_drops=counts[(True, "drop")],
        false_drops=counts[(True, "keep")],
        missed_drops=counts[(False, "drop")],
        true_keeps=counts[(False, "keep")],
    )


def as_run(index: RowIndex, labels: Mapping[str, Label]) -> list[Agreement]:
    """The eliminator as the run decided, then each rule (a filter) that dropped a row in the run.

    The eliminator's verdict counts every drop (a reply that did not parse, a duplicate, a
    failed call too); a rule is held to the rows it dropped and the rows that passed every rule
    (those another stage or rule dropped first never reached it). Seeds are judged by no rule
    and left out.
    """
    labelled = [index.by_id[id] for id in labels if id in index.by_id]
    evolved = [row for row in labelled if row.parent_id is not None or row.drop is not None]
    whole = agreement("eliminator", {row.id: not row.kept for row in evolved}, labels)
    rules = sorted(
        {
            row.drop.filter
            for row in index.rows
            if row.drop is not None and row.drop.stage == "filter"
        }
    )
    per_rule = [
        agreement(
            rule,
            {
                row.id: row.drop is not None
                for row in evolved
                if row.drop is None or row.drop.filter == rule
            },
            labels,
        )
        for rule in rules
    ]
    return [whole, *per_rule]


@frozen
class Disagreement:
    """A labelled row the judge decided otherwise."""

    id: str
    label: str
    verdict: str  # "keep" or "filter: reason"
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "verdict": self.verdict, "text": self.text}


def disagreements(
    verdicts: Mapping[str, str | None], labels: Mapping[str, Label], texts: Mapping[str, str]
) -> list[Disagreement]:
    """Rows whose label differs from ``verdicts`` (id → drop reason, ``None`` for a keep)."""
    out = []
    for id, reason in verdicts.items():
        label = labels.get(id)
        if label is None or label.label is None:
            continue
        if (reason is not None) != (label.label == "drop"):
            out.append(Disagreement(id, label.label, reason or "keep", texts.get(id, "")))
    return out


def run_disagreements(index: RowIndex, labels: Mapping[str, Label]) -> list[Disagreement]:
    """The labelled evolutions the run decided otherwise than the user."""
    verdicts: dict[str, str | None] = {}
    texts: dict[str, str] = {}
    for id in labels:
        row = index.by_id.get(id)
        if row is None or (row.parent_id is None and row.drop is None):
            continue
        verdicts[id] = f"{row.drop.filter}: {row.drop.reason}" if row.drop else None
        texts[id] = row.text
    return disagreements(verdicts, labels, texts)


def unknown_ids(index: RowIndex, labels: Iterable[str]) -> list[str]:
    """Labelled ids that no row of the run has (labels of another run, or an edited file)."""
    return [id for id in labels if id not in index.by_id]
