"""Embedding diversity: each row's cosine distance to its nearest neighbour in the data set.

A row close to another (a near-paraphrase) scores near 0; a row unlike any other scores high.
Rows are embedded with the ``quality`` extra's sentence model (all-MiniLM-L6-v2, see
:mod:`evolkit.score._embed`) or any function that maps texts to unit vectors. The vectors are
held as one float32 matrix (384 numbers, 1.5 KB a row: 150 MB for 100,000 rows) and the nearest
neighbours are found block by block, so the similarity matrix is never held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evolkit._protocols import Backend
from evolkit._types import Instruction, ScoreFailure, ScoreItem
from evolkit.errors import missing_extra

__all__ = ["DiversityScorer", "Embed", "embedding_text", "nearest_similarity", "numpy"]

Embed = Callable[[Sequence[str]], Any]


def numpy() -> Any:
    """``numpy``, or the error naming the extra that brings it."""
    try:
        import numpy as np
    except ImportError as exc:
        raise missing_extra("numpy", "quality", exc) from exc
    return np


def embedding_text(instruction: Instruction) -> str:
    """What is embedded for a row: the instruction and its input."""
    if instruction.input.strip():
        return f"{instruction.text}\n{instruction.input}"
    return instruction.text


def default_embed(texts: Sequence[str]) -> Any:
    from evolkit.score._embed import load_embedder

    return load_embedder()(texts)


def unit_rows(vectors: Any) -> Any:
    """``vectors`` as a float32 matrix with rows of length 1 (a zero row stays zero)."""
    np = numpy()
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"an embedding function must return a 2-D array, got {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def nearest_similarity(matrix: Any, block: int = 1024) -> Any:
    """For each row of the unit-row ``matrix``, the highest cosine similarity to another row."""
    np = numpy()
    count = matrix.shape[0]
    best = np.full(count, -1.0, dtype=np.float32)
    for start in range(0, count, block):
        sims = matrix[start : start + block] @ matrix.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        best[start : start + block] = sims.max(axis=1)
    return best


class DiversityScorer:
    """``1 - cos(row, nearest other row)`` over the embeddings of the whole data set.

    ``prepare`` embeds every row once; ``score`` then looks each row up. Rows whose content is
    repeated in the data set score 0.
    """

    name = "diversity"
    needs_model = False

    def __init__(self, embed: Embed | None = None, batch_size: int = 256) -> None:
        self._embed = embed if embed is not None else default_embed
        self.batch_size = batch_size
        self._distance: dict[str, float] = {}
        self._prepared = False

    def prepare(self, rows: Iterable[Instruction]) -> None:
        np = numpy()
        ids: list[str] = []
        chunks: list[Any] = []
        batch: list[str] = []
        for row in rows:
            ids.append(row.id)
            batch.append(embedding_text(row))
            if len(batch) == self.batch_size:
                chunks.append(unit_rows(self._embed(batch)))
                batch = []
        if batch:
            chunks.append(unit_rows(self._embed(batch)))
        self._distance = {}
        self._prepared = True
        if len(ids) < 2:
            return
        best = nearest_similarity(np.concatenate(chunks))
        self._distance = {
            row_id: round(float(max(0.0, 1.0 - sim)), 4)
            for row_id, sim in zip(ids, best.tolist(), strict=True)
        }

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        if not self._prepared:
            return ScoreFailure("not_prepared", "call prepare() with the data set first")
        value = self._distance.get(item.row.id)
        if value is None:
            return ScoreFailure("no_neighbour", "the data set has fewer than two rows")
        return value
