"""Find rows of an evolved data set that overlap the GSM8K test set, before training on them.

Texts are normalised (Unicode NFKC, lower case, calculator notes and thousands separators
removed, punctuation turned into spaces) and cut into word n-grams (13 by default, as in the
contamination studies of GPT-3 and later). A row (instruction, input and output together) is
flagged for a test question when they share n-grams; the report lists, per flagged row, the
test question and the share of that question's n-grams found in the row.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import Instruction
from evolkit.errors import ConfigError
from evolkit.evaluate._data import GSM8KData, load_gsm8k, read_jsonl, strip_calculator_notes

__all__ = [
    "ContaminationHit",
    "ContaminationReport",
    "check_contamination",
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

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the hit."""
        return {
            "row_index": self.row_index,
            "row_id": self.row_id,
            "test_index": self.test_index,
            "test_question": self.test_question,
            "shared_ngrams": self.shared,
            "overlap": round(self.overlap, 4),
        }


@frozen
class ContaminationReport:
    """Every overlap found; :attr:`row_ids` are the rows to drop before training."""

    hits: tuple[ContaminationHit, ...]
    n: int
    rows: int
    test_questions: int
    source: str = ""

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
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            for hit in self.hits:
                handle.write(json.dumps(hit.to_json(), ensure_ascii=False) + "\n")
        return target

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(
            title=(
                f"{self.flagged} of {self.rows} rows share {self.n}-grams with "
                f"{len({h.test_index for h in self.hits})} of {self.test_questions} GSM8K "
                "test questions"
            ),
            title_justify="left",
        )
        for name in ("row", "id", "test #", "shared", "overlap", "test question"):
            table.add_column(name, overflow="fold")
        for hit in self.hits[:50]:
            question = hit.test_question
            table.add_row(
                str(hit.row_index),
                hit.row_id,
                str(hit.test_index),
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


def check_contamination(
    data: str | os.PathLike[str] | Iterable[Mapping[str, Any] | Instruction],
    test: str | os.PathLike[str] | GSM8KData | None = None,
    *,
    n: int = 13,
    include_solutions: bool = False,
    min_shared: int = 1,
    fields: tuple[str, ...] = ("instruction", "input", "output"),
) -> ContaminationReport:
    """Rows of ``data`` that share word ``n``-grams with the GSM8K test questions.

    ``data`` is an evolkit JSONL file (or rows, or :class:`~evolkit.Instruction` objects);
    ``test`` a GSM8K test file, loaded data, or None for the hub copy. ``include_solutions``
    also indexes the test solutions. A row is flagged for a question when it shares at least
    ``min_shared`` n-grams with it; a question shorter than ``n`` words is matched whole.
    """
    if n < 1:
        raise ConfigError(f"the n-gram size must be >= 1, got {n}")
    if min_shared < 1:
        raise ConfigError(f"min_shared must be >= 1, got {min_shared}")
    questions = load_gsm8k(test, split="test")
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    totals: dict[int, int] = {}
    lengths = {n}
    for item in questions.items:
        text = item.question + ("\n" + item.solution if include_solutions else "")
        words = normalize_words(text)
        grams = ngrams(words, n) if len(words) >= n else {tuple(words)}
        grams.discard(())
        if len(words) < n and words:
            lengths.add(len(words))
        totals[item.index] = len(grams)
        for gram in grams:
            index[gram].append(item.index)
    by_index = {item.index: item for item in questions.items}

    rows = read_rows(data) if isinstance(data, (str, os.PathLike)) else list(data)
    hits: list[ContaminationHit] = []
    for row_index, row in enumerate(rows):
        row_id, text = _row_text(row, fields)
        words = normalize_words(text)
        shared: dict[int, int] = defaultdict(int)
        for length in lengths:
            for gram in ngrams(words, length):
                for test_index in index.get(gram, ()):
                    shared[test_index] += 1
        for test_index, count in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])):
            if count >= min_shared:
                hits.append(
                    ContaminationHit(
                        row_index=row_index,
                        row_id=row_id or str(row_index),
                        test_index=test_index,
                        test_question=by_index[test_index].question,
                        shared=count,
                        overlap=count / totals[test_index] if totals[test_index] else 0.0,
                    )
                )
    return ContaminationReport(
        hits=tuple(hits),
        n=n,
        rows=len(rows),
        test_questions=len(questions),
        source=questions.source,
    )
