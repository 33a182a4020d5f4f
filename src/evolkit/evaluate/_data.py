"""GSM8K questions: from the Hugging Face hub (``openai/gsm8k``, config ``main``) or a JSONL file.

A file is read in the original layout, one object per line with ``question`` and ``answer``,
where the answer is a worked solution with calculator notes (``<<48/2=24>>``) and a final
``#### N`` line. The sizes of the published splits (7473 train, 1319 test) are checked; a file of
another size is still used, and the difference is reported in :attr:`GSM8KData.warnings`.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import attrs
from attrs import frozen

from evolkit.errors import EvolkitError, SeedFileError, missing_extra
from evolkit.evaluate._extract import gold_answer
from evolkit.io import iter_jsonl

__all__ = [
    "GSM8K_HUB_CONFIG",
    "GSM8K_HUB_ID",
    "GSM8K_SPLIT_SIZES",
    "GSM8KData",
    "GSM8KDataError",
    "GSM8KItem",
    "from_rows",
    "load_gsm8k",
    "read_jsonl",
    "strip_calculator_notes",
]

GSM8K_HUB_ID = "openai/gsm8k"
GSM8K_HUB_CONFIG = "main"
GSM8K_SPLIT_SIZES: dict[str, int] = {"train": 7473, "test": 1319}

_CALCULATOR = re.compile(r"<<[^<>]*>>")


class GSM8KDataError(EvolkitError):
    """GSM8K cannot be loaded (hub unreachable, file missing or malformed)."""


def strip_calculator_notes(text: str) -> str:
    """``text`` without GSM8K's calculator notes: ``48/2 = <<48/2=24>>24`` becomes ``48/2 = 24``."""
    return _CALCULATOR.sub("", text)


@frozen
class GSM8KItem:
    """One problem: the question, the worked ``solution`` (ending ``#### N``) and its ``gold``."""

    index: int
    question: str
    solution: str
    gold: Fraction

    @property
    def gold_text(self) -> str:
        """The text of the final ``#### N`` line after the marker, as in the data."""
        return self.solution.rsplit("####", 1)[1].strip()

    @property
    def reasoning(self) -> str:
        """The solution without its final ``#### N`` line."""
        return self.solution.rsplit("####", 1)[0].rstrip()


@frozen
class GSM8KData:
    """A loaded split: its items, where they came from, and any notes about its size."""

    items: tuple[GSM8KItem, ...]
    split: str
    source: str
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def head(self, limit: int | None) -> GSM8KData:
        """The first ``limit`` items (all when None)."""
        if limit is None or limit >= len(self.items):
            return self
        if limit < 0:
            raise EvolkitError(f"limit must be >= 0, got {limit}")
        return GSM8KData(self.items[:limit], self.split, self.source, self.warnings)


def _item(index: int, row: Mapping[str, Any], where: str, strip: bool) -> GSM8KItem:
    question, solution = row.get("question"), row.get("answer")
    if not isinstance(question, str) or not isinstance(solution, str):
        raise SeedFileError(
            where, index + 1, "a GSM8K row needs string fields 'question' and 'answer'"
        )
    gold = gold_answer(solution)
    if gold is None:
        raise SeedFileError(where, index + 1, "the answer has no final '#### N' line with a number")
    if strip:
        solution = strip_calculator_notes(solution)
    return GSM8KItem(index, question.strip(), solution.strip(), gold)


def _size_warning(count: int, split: str, source: str) -> tuple[str, ...]:
    expected = GSM8K_SPLIT_SIZES.get(split)
    if expected is None or count == expected:
        return ()
    return (
        f"{source} has {count} questions, the GSM8K {split} split has {expected}: "
        "figures are not comparable with published ones",
    )


def from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    split: str = "test",
    source: str = "<rows>",
    strip_calculator: bool = False,
) -> GSM8KData:
    """GSM8K data from ``question``/``answer`` mappings (a list, a datasets split…)."""
    items = tuple(_item(i, row, source, strip_calculator) for i, row in enumerate(rows))
    return GSM8KData(items, split, source, _size_warning(len(items), split, source))


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; errors name the file and line."""
    try:
        return [row for _, row in iter_jsonl(path, objects=True)]
    except OSError as exc:
        raise SeedFileError(str(path), None, f"cannot open: {exc.strerror or exc}") from None


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_PASS_A_FILE = (
    "pass a local copy in the original JSONL layout instead (--data FILE, or data=path in Python)"
)


def _load_from_hub(split: str, strip_calculator: bool) -> GSM8KData:
    try:
        import datasets
    except ImportError as exc:
        raise missing_extra("datasets", "eval", exc) from exc
    offline = _truthy("HF_HUB_OFFLINE") or _truthy("HF_DATASETS_OFFLINE")
    if not offline and not _hub_reachable():
        raise GSM8KDataError(
            f"cannot reach the Hugging Face hub to download {GSM8K_HUB_ID}: {_PASS_A_FILE}, "
            "or set HF_HUB_OFFLINE=1 to use a copy already in the datasets cache"
        )
    try:
        dataset = datasets.load_dataset(GSM8K_HUB_ID, GSM8K_HUB_CONFIG, split=split)
    except Exception as exc:  # datasets raises many types: connection, not-cached, not-found
        mode = "offline mode (HF_HUB_OFFLINE) and no cached copy" if offline else "download failed"
        raise GSM8KDataError(
            f"cannot load {GSM8K_HUB_ID} ({mode}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): {_PASS_A_FILE}"
        ) from exc
    return from_rows(
        dataset, split=split, source=f"{GSM8K_HUB_ID}:{split}", strip_calculator=strip_calculator
    )


def load_gsm8k(
    data: str | os.PathLike[str] | GSM8KData | Iterable[Mapping[str, Any]] | None = None,
    *,
    split: str = "test",
    strip_calculator: bool = False,
    limit: int | None = None,
) -> GSM8KData:
    """Load GSM8K.

    ``data`` is a JSONL file in the original layout, rows already in memory, a loaded
    :class:`GSM8KData`, or None for ``openai/gsm8k`` (config ``main``) from the Hugging Face hub
    (needs ``datasets``; fails at once with a clear error when the hub cannot be reached).
    ``split`` names which split the data is (checked against the published sizes).
    ``strip_calculator`` removes the ``<<...>>`` calculator notes from the solutions.
    ``limit`` keeps the first ``limit`` questions (the size check uses the whole file).
    """
    if isinstance(data, GSM8KData):
        loaded = data
        if strip_calculator:
            items = tuple(
                attrs.evolve(item, solution=strip_calculator_notes(item.solution))
                for item in data.items
            )
            loaded = attrs.evolve(data, items=items)
    elif data is None:
        loaded = _load_from_hub(split, strip_calculator)
    elif isinstance(data, (str, os.PathLike)):
        path = Path(data)
        loaded = from_rows(
            read_jsonl(path), split=split, source=str(path), strip_calculator=strip_calculator
        )
    else:
        loaded = from_rows(data, split=split, strip_calculator=strip_calculator)
    return loaded.head(limit)
