"""Find rows of a data set that overlap a benchmark's test items, before training on them.

The benchmark is GSM8K (a file, or the hub copy), MATH, HumanEval, MBPP or any JSONL with a
text field (see :mod:`evolkit.evaluate._benchmarks`).

Texts are normalised (Unicode NFKC, lower case, calculator notes and thousands separators
removed, punctuation turned into spaces) and cut into word n-grams (13 by default, as in the
contamination studies of GPT-3 and later). A row (instruction, input and output together) is
flagged for a test question when they share n-grams; the report lists, per flagged row, the
test question and the share of that question's n-grams found in the row. With an
``embedding_threshold``, rows whose instruction embedding is that close (cosine) to a test
item's are flagged too (paraphrases that share few n-grams).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._fields import named_fields
from evolkit._types import Instruction
from evolkit.errors import ConfigError
from evolkit.evaluate._benchmarks import Benchmark, load_benchmark
from evolkit.evaluate._data import GSM8KData, load_gsm8k, read_jsonl, strip_calculator_notes
from evolkit.io import write_jsonl

__all__ = [
    "ContaminationHit",
    "ContaminationReport",
    "NgramIndex",
    "check_contamination",
    "load_test_set",
    "ngrams",
    "normalize_words",
]

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD = re.compile(r"[^\w]+")


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` after normalisation (see the module docstring)."""
    text = unicodedata.normalize("NFKC", strip_calculator_notes(text)).lower()
    text = _THOUSANDS.sub("", text)
    return [word for word in _NON_WORD.sub(" ", text).replace("_", " ").split() if word]


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    """The distinct ``n``-word sequences of ``words``."""
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@frozen
class ContaminationHit:
    """A data set row that shares n-grams with one test question."""

    row_index: int
    row_id: str
    test_index: int
    test_question: str
    shared: int
    overlap: float
    method: str = "ngram"
    similarity: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the hit."""
        return {
            **named_fields(self, "row_index", "row_id", "test_index", "test_question"),
            "shared_ngrams": self.shared,
            "overlap": round(self.overlap, 4),
            "method": self.method,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
        }


@frozen
class ContaminationReport:
    """Every overlap found; :attr:`row_ids` are the rows to drop before training."""

    hits: tuple[ContaminationHit, ...]
    n: int
    rows: int
    test_questions: int
    source: str = ""
    benchmark: str = "GSM8K"

    @property
    def row_ids(self) -> frozenset[str]:
        """Ids of the flagged rows."""
        return frozenset(hit.row_id for hit in self.hits)

    @property
    def flagged(self) -> int:
        """Number of flagged rows."""
        return len(self.row_ids)

    def clean(self, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """``rows`` (in the order read, with the same ids) without the flagged ones."""
        flagged = {hit.row_index for hit in self.hits}
        return [row for index, row in enumerate(rows) if index not in flagged]

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write one JSON line per hit; returns the path."""
        return write_jsonl(path, (hit.to_json() for hit in self.hits))

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(
            title=(
                f"{self.flagged} of {self.rows} rows share {self.n}-grams with "
                f"{len({h.test_index for h in self.hits})} of {self.test_questions} "
                f"{self.benchmark} test items"
            ),
            title_justify="left",
        )
        for name in ("row", "id", "test #", "how", "shared", "overlap", "test question"):
            table.add_column(name, overflow="fold")
        for hit in self.hits[:50]:
            question = hit.test_question
            table.add_row(
                str(hit.row_index),
                hit.row_id,
                str(hit.test_index),
                hit.method if hit.similarity is None else f"{hit.method} {hit.similarity:.2f}",
                str(hit.shared),
                f"{100 * hit.overlap:.0f}%",
                question if len(question) <= 80 else question[:77] + "...",
            )
        if len(self.hits) > 50:
            table.caption = f"first 50 of {len(self.hits)} hits"
        return table


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (evolkit output rows or any Alpaca-style rows)."""
    return read_jsonl(path)


def _row_text(row: Mapping[str, Any] | Instruction, fields: tuple[str, ...]) -> tuple[str, str]:
    if isinstance(row, Instruction):
        row = row.to_record()
    parts = [str(row[key]) for key in fields if row.get(key)]
    return str(row.get("id", "")), "\n".join(parts)


class NgramIndex:
    """The word n-grams of a benchmark's items, to look rows up in (shared with the filter)."""

    def __init__(self, benchmark: Benchmark, n: int = 13, include_solutions: bool = False) -> None:
        if n < 1:
            raise ConfigError(f"the n-gram size must be >= 1, got {n}")
        self.n = n
        self.benchmark = benchmark
        self._index: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self.totals: dict[int, int] = {}
        self._lengths = {n}
        for item in benchmark.items:
            text = item.text + ("\n" + item.reference if include_solutions else "")
            words = normalize_words(text)
            grams = ngrams(words, n) if len(words) >= n else {tuple(words)}
            grams.discard(())
            if len(words) < n and words:
                self._lengths.add(len(words))
            self.totals[item.index] = len(grams)
            for gram in grams:
                self._index[gram].append(item.index)

    def shared(self, text: str) -> dict[int, int]:
        """Test item index -> how many of its n-grams ``text`` holds (items sharing any)."""
        words = normalize_words(text)
        counts: dict[int, int] = defaultdict(int)
        for length in self._lengths:
            for gram in ngrams(words, length):
                for test_index in self._index.get(gram, ()):
                    counts[test_index] += 1
        return dict(counts)


def load_test_set(
    test: str | os.PathLike[str] | GSM8KData | Benchmark | None,
    *,
    layout: str = "auto",
    text_field: str | None = None,
) -> Benchmark:
    """A benchmark from a file (any layout), loaded data, or None for GSM8K from the hub."""
    if isinstance(test, Benchmark):
        return test
    if isinstance(test, GSM8KData):
        return Benchmark.from_gsm8k(test)
    if test is None:
        return Benchmark.from_gsm8k(load_gsm8k(None, split="test"))
    return load_benchmark(test, layout=layout, text_field=text_field)


def _embedding_hits(
    rows: list[Any], benchmark: Benchmark, threshold: float, embed: Any
) -> list[ContaminationHit]:
    """Hits for rows whose instruction embeds within ``threshold`` cosine of a test item."""
    from evolkit.score._diversity import default_embed, embedding_text, unit_rows

    embed = embed if embed is not None else default_embed
    tests = unit_rows(embed([item.text for item in benchmark.items]))
    hits: list[ContaminationHit] = []
    for start in range(0, len(rows), 256):
        chunk = rows[start : start + 256]
        insts = [r if isinstance(r, Instruction) else Instruction.from_record(r) for r in chunk]
        sims = unit_rows(embed([embedding_text(r) for r in insts])) @ tests.T
        for offset, row_sims in enumerate(sims.tolist()):
            row_index = start + offset
            row_id = _row_text(rows[row_index], ("id",))[0] or str(row_index)
            for position, sim in enumerate(row_sims):
                if sim < threshold:
                    continue
                item = benchmark.items[position]
                hits.append(
                    ContaminationHit(
                        row_index=row_index,
                        row_id=row_id,
                        test_index=item.index,
                        test_question=item.text,
                        shared=0,
                        overlap=0.0,
                        method="embedding",
                        similarity=float(sim),
                    )
                )
    return hits


def check_contamination(
    data: str | os.PathLike[str] | Iterable[Mapping[str, Any] | Instruction],
    test: str | os.PathLike[str] | GSM8KData | Benchmark | None = None,
    *,
    n: int = 13,
    include_solutions: bool = False,
    min_shared: int = 1,
    fields: tuple[str, ...] = ("instruction", "input", "output"),
    layout: str = "auto",
    text_field: str | None = None,
    embedding_threshold: float | None = None,
    embed: Any = None,
) -> ContaminationReport:
    """Rows of ``data`` that share word ``n``-grams with a benchmark's test items.

    ``data`` is an evolkit JSONL file (or rows, or :class:`~evolkit.Instruction` objects);
    ``test`` a benchmark file (GSM8K, MATH, HumanEval, MBPP layouts found from the fields, or
    any JSONL with ``text_field``), loaded data, or None for the GSM8K hub copy.
    ``include_solutions`` also indexes the reference solutions. A row is flagged for an item
    when it shares at least ``min_shared`` n-grams with it; an item shorter than ``n`` words is
    matched whole. ``embedding_threshold`` (a cosine similarity, e.g. 0.9) also flags rows whose
    instruction embeds that close to an item (``quality`` extra, or your own ``embed``).
    """
    if min_shared < 1:
        raise ConfigError(f"min_shared must be >= 1, got {min_shared}")
    if n < 1:
        raise ConfigError(f"the n-gram size must be >= 1, got {n}")
    benchmark = load_test_set(test, layout=layout, text_field=text_field)
    index = NgramIndex(benchmark, n, include_solutions)
    by_index = {item.index: item for item in benchmark.items}
    rows = read_rows(data) if isinstance(data, (str, os.PathLike)) else list(data)
    hits: list[ContaminationHit] = []
    for row_index, row in enumerate(rows):
        row_id, text = _row_text(row, fields)
        shared = index.shared(text)
        for test_index, count in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])):
            if count >= min_shared:
                total = index.totals[test_index]
                hits.append(
                    ContaminationHit(
                        row_index=row_index,
                        row_id=row_id or str(row_index),
                        test_index=test_index,
                        test_question=by_index[test_index].text,
                        shared=count,
                        overlap=count / total if total else 0.0,
                    )
                )
    if embedding_threshold is not None:
        hits.extend(_embedding_hits(rows, benchmark, embedding_threshold, embed))
        hits.sort(key=lambda h: (h.row_index, h.method != "ngram"))
    return ContaminationReport(
        hits=tuple(hits),
        n=n,
        rows=len(rows),
        test_questions=len(benchmark),
        source=benchmark.source,
        benchmark=benchmark.name,
    )
