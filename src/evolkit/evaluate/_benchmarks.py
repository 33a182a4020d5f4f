"""Benchmark files for contamination checks: GSM8K, MATH, HumanEval, MBPP, or any JSONL.

A benchmark is read as items with a ``text`` (the question or prompt a model is tested on) and
a ``reference`` (the worked solution or code). The layout is found from the first row's keys,
or named: ``gsm8k`` (``question``/``answer``), ``math`` (``problem``/``solution``),
``humaneval`` (``prompt``/``canonical_solution``), ``mbpp`` (``text`` or ``prompt``/``code``);
any other JSONL or JSON array is read with ``text_field`` (and ``reference_field``).
Benchmark data is never shipped with evolkit: users pass their own copy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit.errors import ConfigError, SeedFileError
from evolkit.evaluate._data import GSM8KData, read_jsonl

__all__ = ["LAYOUTS", "Benchmark", "BenchmarkItem", "detect_layout", "load_benchmark"]

#: Layout name -> (text field, reference field), tried in this order when detecting.
LAYOUTS: dict[str, tuple[str, str]] = {
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution"),
    "humaneval": ("prompt", "canonical_solution"),
    "mbpp": ("text", "code"),
    "mbpp-sanitized": ("prompt", "code"),
}


@frozen
class BenchmarkItem:
    """One test item: its position, the text a model is asked, and the reference answer."""

    index: int
    text: str
    reference: str = ""


@frozen
class Benchmark:
    """The items of a benchmark file, with the layout it was read in."""

    items: tuple[BenchmarkItem, ...]
    name: str
    source: str

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_gsm8k(cls, data: GSM8KData) -> Benchmark:
        items = tuple(BenchmarkItem(i.index, i.question, i.solution) for i in data.items)
        return cls(items, "GSM8K", data.source)


def detect_layout(row: Mapping[str, Any]) -> str | None:
    """The first layout whose text and reference fields are both in ``row``."""
    for name, (text, reference) in LAYOUTS.items():
        if isinstance(row.get(text), str) and isinstance(row.get(reference), str):
            return name
    return None


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() != ".json":
        return read_jsonl(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedFileError(str(path), None, f"cannot open: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SeedFileError(str(path), exc.lineno, f"not JSON: {exc.msg}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SeedFileError(str(path), None, "expected a JSON array of objects")
    return data


def _fields(
    first: Mapping[str, Any], layout: str, text_field: str | None, reference_field: str | None
) -> tuple[str, str, str]:
    if text_field is not None:
        return "jsonl", text_field, reference_field or ""
    name = detect_layout(first) if layout == "auto" else layout
    if name is None:
        keys = ", ".join(sorted(first)) or "none"
        raise ConfigError(
            f"cannot tell the benchmark layout from its fields ({keys}): name the field that "
            "holds the question with --text-field, or pass --layout "
            f"({', '.join(LAYOUTS)})"
        )
    if name not in LAYOUTS:
        raise ConfigError(f"unknown benchmark layout {name!r}: one of {', '.join(LAYOUTS)}")
    text, reference = LAYOUTS[name]
    return name, text, reference_field or reference


def load_benchmark(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    layout: str = "auto",
    text_field: str | None = None,
    reference_field: str | None = None,
) -> Benchmark:
    """The items of a benchmark file (``.jsonl``, or a ``.json`` array) or of rows in memory.

    Every row must hold a string in the text field; a missing one is an error naming the line.
    """
    where = str(source) if isinstance(source, (str, os.PathLike)) else "<rows>"
    rows = _read(Path(source)) if isinstance(source, (str, os.PathLike)) else list(source)
    if not rows:
        raise SeedFileError(where, None, "the benchmark has no rows")
    name, text_key, reference_key = _fields(rows[0], layout, text_field, reference_field)
    items = []
    for index, row in enumerate(rows):
        text = row.get(text_key)
        if not isinstance(text, str) or not text.strip():
            raise SeedFileError(where, index + 1, f"no text in the field {text_key!r}")
        reference = row.get(reference_key) if reference_key else ""
        items.append(BenchmarkItem(index, text.strip(), str(reference or "")))
    label = {"gsm8k": "GSM8K", "math": "MATH", "humaneval": "HumanEval"}.get(name, name)
    label = "MBPP" if name.startswith("mbpp") else label
    return Benchmark(tuple(items), label if name != "jsonl" else Path(where).name, where)
