"""The data-quality summary of a run: per round, how long, how complex, how diverse.

:func:`quality_summary` compares each round with the seeds (round 0): lexical diversity
(distinct-1/2/3), mean length and complexity (see :mod:`evolkit.report._metrics`) and, with
the ``quality`` extra installed, embedding diversity: the mean pairwise cosine distance between
the instructions of a round (higher is more varied) and the mean cosine distance from each
instruction to the seed it descends from (how far evolution moved away from the seeds).
"""

from __future__ import annotations

import html
import random
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Any

from attrs import frozen

from evolkit._types import Instruction, lineage_of
from evolkit.report._metrics import complexity, distinct_n, word_count
from evolkit.score._diversity import embedding_text

__all__ = ["QualitySummary", "RoundQuality", "quality_summary"]


@frozen(kw_only=True)
class RoundQuality:
    """The measures of one round's instructions (round 0: the seeds)."""

    round: int
    rows: int
    distinct_1: float
    distinct_2: float
    distinct_3: float
    mean_words: float
    mean_complexity: float
    embedding_diversity: float | None = None
    drift_from_seed: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "rows": self.rows,
            "distinct_1": round(self.distinct_1, 4),
            "distinct_2": round(self.distinct_2, 4),
            "distinct_3": round(self.distinct_3, 4),
            "mean_words": round(self.mean_words, 2),
            "mean_complexity": round(self.mean_complexity, 2),
            "embedding_diversity": _r(self.embedding_diversity),
            "drift_from_seed": _r(self.drift_from_seed),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@frozen(kw_only=True)
class QualitySummary:
    """Per-round measures, seeds first; ``embedding_model`` is None without embeddings."""

    rounds: tuple[RoundQuality, ...]
    embedding_model: str | None = None
    sample_size: int | None = None

    @property
    def seeds(self) -> RoundQuality | None:
        """The seeds' measures (round 0), the baseline every round is compared with."""
        return next((r for r in self.rounds if r.round == 0), None)

    def round(self, number: int) -> RoundQuality:
        for r in self.rounds:
            if r.round == number:
                return r
        raise KeyError(number)

    def to_json(self) -> dict[str, Any]:
        return {
            "embedding_model": self.embedding_model,
            "sample_size": self.sample_size,
            "rounds": [r.to_json() for r in self.rounds],
        }

    def html_table(self) -> str:
        """The summary as an HTML table, with each round's change from the seeds."""
        base = self.seeds
        cols: list[tuple[str, str]] = [
            ("rows", "rows"),
            ("distinct_1", "distinct-1"),
            ("distinct_2", "distinct-2"),
            ("distinct_3", "distinct-3"),
            ("mean_words", "mean words"),
            ("mean_complexity", "mean complexity"),
        ]
        if self.embedding_model:
            cols += [
                ("embedding_diversity", "embedding diversity"),
                ("drift_from_seed", "distance to seed"),
            ]
        head = "".join(f"<th style='{_TD}'>{html.escape(label)}</th>" for _, label in cols)
        body = []
        for r in self.rounds:
            cells = []
            for key, _ in cols:
                value = getattr(r, key)
                shown = _cell(value, getattr(base, key) if base else None, key)
                cells.append(f"<td style='{_TD}'>{shown}</td>")
            name = "seeds" if r.round == 0 else f"round {r.round}"
            body.append(f"<tr><th style='{_TD};text-align:left'>{name}</th>{''.join(cells)}</tr>")
        return (
            f"<table class='quality' style='{_TABLE}'><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.html_table()


_TABLE = (
    "border-collapse:collapse;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
    "font-size:13px;color:#1f2328"
)
_TD = "padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap"


def _cell(value: Any, base: Any, key: str) -> str:
    if value is None:
        return "–"
    if key == "rows":
        return str(value)
    text = f"{value:.3f}" if key.startswith(("distinct", "embedding", "drift")) else f"{value:.1f}"
    if isinstance(base, (int, float)) and base and isinstance(value, (int, float)):
        change = 100 * (value - base) / base
        if abs(change) >= 0.05:
            text += f" <span style='color:#59636e;font-size:11px'>({change:+.0f}%)</span>"
    return text


def _root_ids(rows: Sequence[Instruction]) -> dict[str, str]:
    by_id = {inst.id: inst for inst in rows}
    return {inst.id: lineage_of(by_id, inst.id)[0].id for inst in rows}


def _embedding_measures(
    per_round: Mapping[int, Sequence[Instruction]], rows: Sequence[Instruction], limit: int
) -> dict[int, tuple[float | None, float | None]]:
    from evolkit.score._embed import load_embedder

    embed = load_embedder()
    roots = _root_ids(rows)
    per_round = {number: insts[:limit] for number, insts in per_round.items()}
    needed = {roots.get(inst.id) for insts in per_round.values() for inst in insts}
    seeds = {inst.id: inst for inst in rows if inst.round == 0 and inst.id in needed}
    seed_ids = sorted(seeds)
    seed_vectors = embed([embedding_text(seeds[i]) for i in seed_ids]) if seed_ids else None
    seed_index = {sid: k for k, sid in enumerate(seed_ids)}
    out: dict[int, tuple[float | None, float | None]] = {}
    for number, insts in per_round.items():
        vectors = embed([embedding_text(i) for i in insts])
        n = len(insts)
        diversity: float | None = None
        if n >= 2:
            total = vectors.sum(axis=0)
            same = float(total @ total) - n  # sum of cosine similarities of distinct pairs
            diversity = 1.0 - same / (n * (n - 1))
        drift: float | None = None
        if seed_vectors is not None and n:
            distances = [
                1.0 - float(vectors[k] @ seed_vectors[seed_index[roots[inst.id]]])
                for k, inst in enumerate(insts)
                if roots.get(inst.id) in seed_index
            ]
            drift = fmean(distances) if distances else None
        out[number] = (diversity, drift)
    return out


def quality_summary(
    rows: Iterable[Instruction | Mapping[str, Any]],
    *,
    embeddings: bool | None = False,
    sample: int | None = None,
    embedding_sample: int = 1000,
    seed: int = 0,
) -> QualitySummary:
    """Per-round length, complexity and diversity of ``rows``, the seeds (round 0) first.

    ``rows`` are instructions or JSONL records (a :class:`~evolkit.RunResult` works as is).
    ``sample`` measures at most that many instructions per round (picked with ``seed``), and
    with ``sample=None`` every round is cut to the size of the smallest round, so distinct-n
    compares sets of the same size. ``embeddings=True`` adds embedding diversity (needs the
    ``quality`` extra; raises :class:`~evolkit.errors.MissingExtraError` without it);
    ``embeddings=None`` adds it when the extra is installed. Embeddings are computed for at
    most ``embedding_sample`` instructions of each round (the first of the random sample).
    """
    insts = [r if isinstance(r, Instruction) else Instruction.from_record(r) for r in rows]
    grouped: dict[int, list[Instruction]] = {}
    for inst in insts:
        grouped.setdefault(inst.round, []).append(inst)
    if not grouped:
        return QualitySummary(rounds=())
    size = sample if sample is not None else min(len(v) for v in grouped.values())
    rng = random.Random(f"evolkit-quality:{seed}")
    per_round: dict[int, list[Instruction]] = {}
    for number in sorted(grouped):
        items = sorted(grouped[number], key=lambda i: i.id)
        per_round[number] = rng.sample(items, size) if len(items) > size else items
    use_embeddings = embeddings
    if embeddings is None:
        from evolkit.score._embed import embedding_available

        use_embeddings = embedding_available()
    measured: dict[int, tuple[float | None, float | None]] = {}
    model = None
    if use_embeddings:
        from evolkit.score._embed import EMBEDDING_MODEL

        measured = _embedding_measures(per_round, insts, embedding_sample)
        model = EMBEDDING_MODEL
    result = []
    for number, items in per_round.items():
        texts = [embedding_text(i) for i in items]
        diversity, drift = measured.get(number, (None, None))
        result.append(
            RoundQuality(
                round=number,
                rows=len(items),
                distinct_1=distinct_n(texts, 1),
                distinct_2=distinct_n(texts, 2),
                distinct_3=distinct_n(texts, 3),
                mean_words=fmean(word_count(t) for t in texts) if texts else 0.0,
                mean_complexity=fmean(complexity(i.text, i.input) for i in items) if items else 0.0,
                embedding_diversity=diversity,
                drift_from_seed=drift,
            )
        )
    return QualitySummary(rounds=tuple(result), embedding_model=model, sample_size=size)
