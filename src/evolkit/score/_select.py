"""Score-first, diversity-aware selection of a subset (the deita recipe).

Rows are ranked by a combined score (by default the product of ``difficulty`` and ``quality``,
as deita multiplies complexity and quality) and taken best first; a row whose embedding has a
cosine similarity of ``threshold`` or more with a row already taken is skipped, until
``budget`` rows are taken. Memory: about 50 bytes a row for the ranking, plus the embeddings of the
rows taken (1.5 KB each with the packaged 384-dimension model), never the data set itself. Every
decision goes to ``SUBSET.selection.jsonl`` with its reason, the counts to ``SUBSET.select.json``.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from attrs import field, frozen

from evolkit._types import Instruction
from evolkit.engine.preflight import check_output_file, refuse_output_over_input
from evolkit.errors import ConfigError
from evolkit.io import atomic_writer
from evolkit.score._diversity import Embed, default_embed, embedding_text, numpy, unit_rows
from evolkit.score._rows import RowFile
from evolkit.score._summary import row_scores

__all__ = ["SelectionReport", "combined_score", "select"]

DEFAULT_BY = ("difficulty", "quality")


def combined_score(row: Instruction, by: Sequence[str]) -> float | str:
    """The product of the named scores of ``row``, or ``"unscored:<name>"`` for a missing one."""
    scores = row_scores(row)
    value = 1.0
    for name in by:
        if name not in scores:
            return f"unscored:{name}"
        value *= scores[name]
    return value


@frozen(kw_only=True)
class SelectionReport:
    """What :func:`select` took and why it left the rest out."""

    rows: int
    budget: int
    threshold: float
    by: tuple[str, ...]
    taken: int
    skipped: dict[str, int] = field(factory=dict)
    not_reached: int = 0
    score_range: tuple[float, float] | None = None
    output: str = ""
    decisions: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "budget": self.budget,
            "threshold": self.threshold,
            "by": list(self.by),
            "taken": self.taken,
            "skipped": dict(self.skipped),
            "not_reached": self.not_reached,
            "score_range_taken": list(self.score_range) if self.score_range else None,
            "output": self.output,
            "decisions": self.decisions,
        }

    def __rich__(self) -> str:
        skipped = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items())) or "none"
        span = (
            f"; combined scores taken {self.score_range[1]:g} down to {self.score_range[0]:g}"
            if self.score_range
            else ""
        )
        return (
            f"took {self.taken} of {self.rows} rows (budget {self.budget}, by "
            f"{' x '.join(self.by)}, similarity below {self.threshold:g}){span}\n"
            f"skipped: {skipped}; {self.not_reached} ranked rows not reached\n"
            f"subset: {self.output} · every decision: {self.decisions}"
        )


class _Taken:
    """The unit embeddings of the rows taken so far, in a matrix grown by doubling."""

    def __init__(self, limit: int) -> None:
        self._np = numpy()
        self._matrix: Any = None
        self.ids: list[str] = []
        self.limit = limit

    def nearest(self, vector: Any) -> tuple[float, str | None]:
        if not self.ids:
            return -1.0, None
        sims = self._matrix[: len(self.ids)] @ vector
        best = int(self._np.argmax(sims))
        return float(sims[best]), self.ids[best]

    def add(self, row_id: str, vector: Any) -> None:
        np = self._np
        if self._matrix is None:
            self._matrix = np.zeros((min(self.limit, 1024), vector.shape[0]), dtype=np.float32)
        if len(self.ids) == self._matrix.shape[0]:
            grown = np.zeros((min(self.limit, 2 * len(self.ids)), vector.shape[0]), np.float32)
            grown[: len(self.ids)] = self._matrix
            self._matrix = grown
        self._matrix[len(self.ids)] = vector
        self.ids.append(row_id)


def _ranking(rows: RowFile, by: Sequence[str], skipped: Counter[str], log: IO[str]) -> list[int]:
    """Offsets of the scored rows, best combined score first (ties: file order)."""
    scores = array("d")
    offsets = array("Q")
    for offset in rows.ordered_offsets():
        row = rows.at(offset)
        value = combined_score(row, by)
        if isinstance(value, str):
            skipped[value] += 1
            log.write(json.dumps({"id": row.id, "decision": "skipped", "reason": value}) + "\n")
            continue
        scores.append(value)
        offsets.append(offset)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [offsets[i] for i in order]


def _chunks(rows: RowFile, offsets: list[int], size: int) -> Iterator[list[Instruction]]:
    for start in range(0, len(offsets), size):
        yield [rows.at(o) for o in offsets[start : start + size]]


def select(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    budget: int,
    threshold: float = 0.9,
    by: Sequence[str] = DEFAULT_BY,
    embed: Embed | None = None,
    batch_size: int = 64,
) -> SelectionReport:
    """Write to ``output`` up to ``budget`` rows of ``data``, best combined score first, none
    with a cosine similarity of ``threshold`` or more to another selected row.

    ``by`` names the scores multiplied into the combined score (rows missing one are skipped,
    counted as ``unscored:<name>``); ``embed`` maps texts to vectors (default: the packaged
    sentence model of the ``quality`` extra). ``threshold`` 1.0 turns the diversity check off
    except for exact repeats.
    """
    if budget < 1:
        raise ConfigError(f"the budget must be at least 1 row, got {budget}")
    if not (-1.0 <= threshold <= 1.0) or math.isnan(threshold):
        raise ConfigError(f"the threshold is a cosine similarity in [-1, 1], got {threshold}")
    if not by:
        raise ConfigError("name at least one score to select by (--by difficulty,quality)")
    embed_fn = embed if embed is not None else default_embed
    target = Path(output)
    log_path = target.with_name(target.name + ".selection.jsonl")
    for path in (target, log_path):
        refuse_output_over_input(path, data)
        check_output_file(path)
    skipped: Counter[str] = Counter()
    taken = _Taken(budget)
    span: list[float] = []
    reached = 0
    with RowFile(data) as rows, atomic_writer(log_path) as log, atomic_writer(target) as out:
        ranking = _ranking(rows, by, skipped, log)
        for chunk in _chunks(rows, ranking, batch_size):
            if len(taken.ids) >= budget:
                break
            vectors = unit_rows(embed_fn([embedding_text(r) for r in chunk]))
            for row, vector in zip(chunk, vectors, strict=True):
                if len(taken.ids) >= budget:
                    break
                reached += 1
                value = combined_score(row, by)
                assert isinstance(value, float)
                similarity, near = taken.nearest(vector)
                record: dict[str, Any] = {"id": row.id, "score": value}
                if similarity >= threshold:
                    skipped["too_similar"] += 1
                    record.update(decision="skipped", reason="too_similar", near=near)
                else:
                    taken.add(row.id, vector)
                    span.append(value)
                    out.write(json.dumps(row.to_record(), ensure_ascii=False) + "\n")
                    record.update(decision="taken", rank=len(taken.ids), nearest=near)
                record["similarity"] = round(similarity, 4) if near is not None else None
                log.write(json.dumps(record) + "\n")
        report = SelectionReport(
            rows=len(rows),
            budget=budget,
            threshold=threshold,
            by=tuple(by),
            taken=len(taken.ids),
            skipped=dict(skipped),
            not_reached=len(ranking) - reached,
            score_range=(min(span), max(span)) if span else None,
            output=str(target),
            decisions=str(log_path),
        )
    with atomic_writer(target.with_name(target.name + ".select.json")) as fh:
        json.dump(report.to_json(), fh, indent=2)
    return report
