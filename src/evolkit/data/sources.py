"""Where seeds come from: a file, ``hf://OWNER/NAME[:CONFIG][@SPLIT]``, or Python objects
(instructions, strings, dicts, a pandas DataFrame, a ``datasets.Dataset`` or
``IterableDataset``). Every source yields :class:`~evolkit.Instruction` one at a time through
the same :class:`~evolkit.data.layouts.RowMapper`; nothing is read into memory whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import Instruction
from evolkit.data.layouts import LayoutError, RowMapper
from evolkit.errors import SeedFileError, missing_extra

__all__ = [
    "HUB_PREFIX",
    "HubSpec",
    "SeedSource",
    "load_hub_dataset",
    "open_seeds",
    "parse_hub_spec",
    "remove_if_refused",
]

HUB_PREFIX = "hf://"
_CHUNK = 4096
_OFFLINE_FIX = (
    "check the name, config and split; with HF_HUB_OFFLINE=1 the data set must already be in "
    "the datasets cache (HF_DATASETS_CACHE), or pass a local directory or file instead"
)


@frozen
class HubSpec:
    """``hf://OWNER/NAME[:CONFIG][@SPLIT]`` taken apart."""

    repo: str
    config: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        text = HUB_PREFIX + self.repo
        if self.config:
            text += ":" + self.config
        return text + ("@" + self.split if self.split else "")


def parse_hub_spec(text: str) -> HubSpec:
    """``"hf://openai/gsm8k:main@train"``: repo ``openai/gsm8k``, config ``main``, split
    ``train``."""
    if not text.startswith(HUB_PREFIX):
        raise SeedFileError(text, None, f"a hub data set starts with {HUB_PREFIX}")
    rest = text[len(HUB_PREFIX) :]
    rest, _, split = rest.partition("@")
    repo, _, config = rest.partition(":")
    if repo.count("/") > 1 or not repo.strip("/") or repo.startswith("/"):
        raise SeedFileError(text, None, "expected hf://OWNER/NAME[:CONFIG][@SPLIT]")
    return HubSpec(repo, config or None, split or None)


class SeedSource:
    """Seeds that can be read once, one instruction at a time, with where they came from
    (``name``, ``kind``, ``license``) and the layout they were read in (:meth:`describe`)."""

    def __init__(
        self, name: str, kind: str, rows: Iterable[Any], mapper: RowMapper, license: str | None
    ) -> None:
        self.name = name
        self.kind = kind
        self.license = license
        self.mapper = mapper
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Instruction]:
        for index, item in enumerate(self._rows):
            self.count = index + 1
            if isinstance(item, Instruction):
                yield item
            elif isinstance(item, str):
                yield Instruction(text=item)
            else:
                try:
                    yield self.mapper.instruction(item)
                except (ValueError, TypeError) as exc:
                    raise SeedFileError(self.name, None, f"row {index + 1}: {exc}") from None

    def describe(self) -> str:
        """The line a run prints at its start: source, row count and layout."""
        if self.mapper.counts:
            layout = self.mapper.describe()
        else:
            layout = "one instruction a line" if self.kind == "file" else "instructions as given"
        return f"seeds: {self.name}, {self.count} rows, {layout}"

    def to_json(self) -> dict[str, Any]:
        """Where the seeds came from, for the run report and the data set card."""
        license = self.license
        if license is None and isinstance(self._rows, _HubRows):
            license = self._rows.license
        return {
            "source": self.name,
            "kind": self.kind,
            "license": license,
            "rows": self.count,
            "layouts": dict(self.mapper.counts),
            "layout": self.mapper.describe() if self.mapper.counts else None,
            "fields": dict(self.mapper.fields) or None,
            "layout_given": self.mapper.layout,
        }


def _file_rows(path: Path, mapper: RowMapper) -> Iterator[Instruction]:
    from evolkit.io import read_instructions

    yield from read_instructions(path, mapper=mapper, pipe_ok=True)  # seeds: a pipe is read once


def _frame_rows(frame: Any) -> Iterator[Mapping[str, Any]]:
    """A DataFrame's rows as dicts of Python values, a chunk at a time."""
    for start in range(0, len(frame), _CHUNK):
        yield from frame.iloc[start : start + _CHUNK].to_dict(orient="records")


def _dataset_kind(seeds: Any) -> str | None:
    datasets = sys.modules.get("datasets")
    if datasets is None:
        return None
    if isinstance(seeds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = ", ".join(seeds)
        raise SeedFileError(
            "<datasets>",
            None,
            f"a DatasetDict holds several splits ({splits})",
            "pass one: ds['train']",
        )
    if isinstance(seeds, datasets.IterableDataset):
        return "IterableDataset"
    if isinstance(seeds, datasets.Dataset):
        return "Dataset"
    return None


def _dataset_license(dataset: Any) -> str | None:
    info = getattr(dataset, "info", None)
    license = getattr(info, "license", None)
    return license or None


def load_hub_dataset(spec: HubSpec) -> Any:
    """``datasets.load_dataset`` of ``spec``: streaming first, then a download if it cannot."""
    try:
        import datasets
    except ImportError as exc:
        raise missing_extra("datasets", "hub", exc) from exc
    name = str(spec)
    try:
        try:
            loaded = datasets.load_dataset(spec.repo, spec.config, split=spec.split, streaming=True)
        except NotImplementedError:
            loaded = datasets.load_dataset(spec.repo, spec.config, split=spec.split)
    except Exception as exc:  # datasets raises many types: offline, not found, bad config
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SeedFileError(
            name, None, f"cannot load ({type(exc).__name__}: {first})", _OFFLINE_FIX
        ) from None
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = list(loaded)
        if "train" not in splits and len(splits) != 1:
            raise SeedFileError(
                name, None, f"it has splits {', '.join(splits)}", f"pick one: {name}@{splits[0]}"
            )
        loaded = loaded["train" if "train" in splits else splits[0]]
    return loaded


def open_seeds(
    seeds: Any,
    *,
    fields: Mapping[str, str] | Iterable[str] | None = None,
    layout: str | None = None,
) -> SeedSource:
    """The seeds as a :class:`SeedSource`: a path, ``hf://...``, or an iterable of
    instructions, strings or dicts, a DataFrame, a ``Dataset`` or an ``IterableDataset``."""
    if isinstance(seeds, SeedSource):
        return seeds
    try:
        mapper = RowMapper(fields, layout)
    except LayoutError as exc:
        raise SeedFileError("<seeds>", None, str(exc)) from None
    if isinstance(seeds, str) and seeds.startswith(HUB_PREFIX):
        spec = parse_hub_spec(seeds)
        return SeedSource(str(spec), "hub", _HubRows(spec), mapper, None)
    if isinstance(seeds, (str, os.PathLike)):
        path = Path(seeds)
        return SeedSource(str(seeds), "file", _file_rows(path, mapper), mapper, None)
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(seeds, pandas.DataFrame):
        name = f"DataFrame ({len(seeds)} rows)"
        return SeedSource(name, "python", _frame_rows(seeds), mapper, None)
    kind = _dataset_kind(seeds)
    if kind is not None:
        title = getattr(getattr(seeds, "info", None), "dataset_name", None)
        name = f"{kind} {title}" if title else kind
        return SeedSource(name, "python", seeds, mapper, _dataset_license(seeds))
    if isinstance(seeds, Mapping) or not isinstance(seeds, Iterable):
        raise SeedFileError(
            "<seeds>",
            None,
            f"cannot read seeds from a {type(seeds).__name__}",
            "pass a path, hf://OWNER/NAME, or a list of rows, a DataFrame or a Dataset",
        )
    return SeedSource(type(seeds).__name__, "python", seeds, mapper, None)


class _HubRows:
    """Rows of a hub data set, loaded when first iterated (so a refused name writes nothing
    before the run reads its seeds) and remembering the data set's licence."""

    def __init__(self, spec: HubSpec) -> None:
        self.spec = spec
        self.license: str | None = None

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        dataset = load_hub_dataset(self.spec)
        self.license = _dataset_license(dataset) or _card_license(self.spec.repo)
        yield from dataset


def _card_license(repo: str) -> str | None:
    """The ``license`` of a data set's card: the local copy datasets used, or the Hub's
    (from the huggingface_hub cache when offline); None when there is no card to read."""
    try:
        from huggingface_hub import DatasetCard

        if os.path.isdir(repo):
            card = DatasetCard(Path(repo, "README.md").read_text(encoding="utf-8"))
        else:
            card = DatasetCard.load(repo, repo_type="dataset")
    except Exception:  # no card, offline without a cached copy: the licence is unknown
        return None
    license = card.data.get("license")
    if isinstance(license, list):
        license = ", ".join(map(str, license))
    return str(license) if license else None


@contextlib.contextmanager
def remove_if_refused(path: Path) -> Iterator[None]:
    """Inside, ``path`` and missing parents may be created; if the block fails, the
    directories it created are removed again, so refused seeds leave nothing behind."""
    missing = path
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    created = not missing.exists()
    try:
        yield
    except BaseException:
        if created:
            shutil.rmtree(missing, ignore_errors=True)
        raise
