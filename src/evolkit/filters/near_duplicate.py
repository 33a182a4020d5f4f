"""The ``near_duplicate`` filter: drop a row nearly the same as another row of the data set.

Each instruction (text and input) becomes a MinHash signature (datasketch) of its word
unigrams and bigrams; locality-sensitive hashing over bands of the signature finds rows whose
estimated Jaccard similarity is above ``threshold``. The engine checks every candidate of a
round, in a fixed order, against the seeds, the rows kept in earlier rounds and the rows kept
so far in this round; a hit drops it as ``near_duplicate`` with ``{"duplicate_of": id}``.

Rows of one lineage (a seed and what evolved from it) are meant to resemble each other, so a
hit on a row with the same seed does not count: the ``near_copy`` rule judges a rewrite
against its parent.
"""

from __future__ import annotations

import itertools
import zlib
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import words

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NearDuplicateFilter", "NearDuplicateIndex", "shingles"]

_MASK = (1 << 64) - 1


def shingles(instruction: Instruction) -> set[bytes]:
    """The word unigrams and bigrams of ``instruction``'s text and input, case-folded."""
    tokens = words(f"{instruction.text}\n{instruction.input}")
    grams = set(tokens) | {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    return {g.encode("utf-8") for g in grams}


def _id_key(instruction_id: str) -> int:
    try:
        return int(instruction_id, 16) & _MASK
    except ValueError:
        return hash(instruction_id) & _MASK


class _CompactMap:
    """uint64 -> uint32 map held in two sorted NumPy arrays plus a small dict of recent keys.

    12 bytes an entry once merged. (datasketch's ``MinHashLSH`` keeps a Python set per bucket,
    about 2 KB a row: at a million rows that is gigabytes, so the bands live here.)
    """

    def __init__(self) -> None:
        import numpy as np

        self._np = np
        self._keys = np.empty(0, dtype=np.uint64)
        self._values = np.empty(0, dtype=np.uint32)
        self._recent: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    def get(self, key: int) -> int | None:
        hit = self._recent.get(key)
        if hit is not None:
            return hit
        i = int(self._np.searchsorted(self._keys, self._np.uint64(key)))
        if i < len(self._keys) and int(self._keys[i]) == key:
            return int(self._values[i])
        return None

    def setdefault(self, key: int, value: int) -> None:
        """Store ``value`` under ``key`` unless the key is already there."""
        if self.get(key) is None:
            self._recent[key] = value
            if len(self._recent) >= max(4096, len(self._keys) // 8):
                self._merge()

    def _merge(self) -> None:
        np = self._np
        keys = np.fromiter(self._recent.keys(), dtype=np.uint64, count=len(self._recent))
        values = np.fromiter(self._recent.values(), dtype=np.uint32, count=len(self._recent))
        all_keys = np.concatenate([self._keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        self._values = np.concatenate([self._values, values])[order]
        self._recent = {}


class _Column:
    """A growing uint64 array (row number -> value)."""

    def __init__(self) -> None:
        import numpy as np

        self._np = np
        self._data = np.empty(1024, dtype=np.uint64)
        self.size = 0

    def append(self, value: int) -> int:
        if self.size == len(self._data):
            self._data = self._np.concatenate([self._data, self._np.empty_like(self._data)])
        self._data[self.size] = value
        self.size += 1
        return self.size - 1

    def __getitem__(self, row: int) -> int:
        return int(self._data[row])


class NearDuplicateIndex:
    """The rows of one run, indexed by the bands of their MinHash signatures."""

    def __init__(self, flt: NearDuplicateFilter) -> None:
        from datasketch import MinHash, MinHashLSH

        self._filter = flt
        params = MinHashLSH(threshold=flt.threshold, num_perm=flt.num_perm)
        self._bands, self._rows_per_band = params.b, params.r
        template = MinHash(num_perm=flt.num_perm, seed=flt.seed, hashfunc=zlib.crc32)
        self._permutations = template.permutations
        self._scheme = template.scheme
        self._minhash = MinHash
        import numpy as np

        self._np = np
        # One odd 64-bit multiplier per position in a band: a band's key is a polynomial hash.
        rng = np.random.default_rng(flt.seed)
        self._multipliers = rng.integers(1, 2**63, size=self._rows_per_band, dtype=np.uint64) | 1
        self._offsets = rng.integers(1, 2**63, size=self._bands, dtype=np.uint64)
        self._last: tuple[Instruction, list[int]] | None = None
        self._tables = [_CompactMap() for _ in range(self._bands)]
        self._row_of_id = _CompactMap()
        self._ids = _Column()
        self._roots = _Column()
        self._id_text: dict[int, str] = {}

    def __len__(self) -> int:
        return self._ids.size

    def _band_keys(self, instruction: Instruction) -> list[int]:
        # check() and then add() of the same row compute the signature once.
        if self._last is not None and self._last[0] is instruction:
            return self._last[1]
        mh = self._minhash(
            num_perm=self._filter.num_perm,
            seed=self._filter.seed,
            hashfunc=zlib.crc32,
            permutations=self._permutations,
            scheme=self._scheme,
        )
        mh.update_batch(sorted(shingles(instruction)))
        used = self._bands * self._rows_per_band
        values: np.ndarray[Any, Any] = mh.hashvalues[:used].astype(self._np.uint64)
        bands = values.reshape(self._bands, self._rows_per_band) * self._multipliers
        keys = [int(k) for k in bands.sum(axis=1, dtype=self._np.uint64) + self._offsets]
        self._last = (instruction, keys)
        return keys

    def _root(self, instruction: Instruction) -> int:
        if instruction.parent_id is not None:
            row = self._row_of_id.get(_id_key(instruction.parent_id))
            if row is not None:
                return self._roots[row]
            return _id_key(instruction.parent_id)
        return _id_key(instruction.id)

    def add(self, instruction: Instruction) -> None:
        """Index ``instruction``."""
        key = _id_key(instruction.id)
        if self._row_of_id.get(key) is not None:
            return
        row = self._ids.append(key)
        self._roots.append(self._root(instruction))
        self._row_of_id.setdefault(key, row)
        if not _hex_id(instruction.id):
            self._id_text[key] = instruction.id
        for table, band in zip(self._tables, self._band_keys(instruction), strict=True):
            table.setdefault(band, row)

    def duplicate_of(self, candidate: Instruction) -> str | None:
        """The id of an indexed row of another lineage that ``candidate`` nearly repeats."""
        root = self._root(candidate)
        for table, band in zip(self._tables, self._band_keys(candidate), strict=True):
            row = table.get(band)
            if row is not None and self._roots[row] != root:
                return self._id_str(self._ids[row])
        return None

    def _id_str(self, key: int) -> str:
        return self._id_text.get(key, f"{key:016x}")

    def check(self, candidate: Instruction) -> Verdict:
        """Drop ``candidate`` as ``near_duplicate`` of an indexed row, else keep it."""
        other = self.duplicate_of(candidate)
        if other is not None:
            return Verdict.dropped(self._filter.name, "near_duplicate", {"duplicate_of": other})
        return Verdict.kept(self._filter.name)


def _hex_id(value: str) -> bool:
    return len(value) == 16 and all(c in "0123456789abcdef" for c in value)


def _threshold(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"NearDuplicateFilter.threshold must be between 0 and 1, got {value}")


@frozen(kw_only=True)
class NearDuplicateFilter:
    """Drops a row whose instruction nearly repeats another lineage's row: ``near_duplicate``.

    ``threshold`` is the estimated Jaccard similarity of word unigram-and-bigram sets above
    which two rows count as the same (0.7 by default: one word changed in a ten-word
    instruction); ``num_perm`` the MinHash size. Hashing is probabilistic: pairs just above the
    threshold are caught most of the time, not always (84% of one-word changes of 12–20 word
    instructions in ``benchmarks/near_duplicates.py``). Memory grows by about 250 bytes a row
    at the peak (337 MB for the whole process at a million rows).

    As a plain filter (``judge``), it compares the candidate with its parent only; the engine
    and ``evolkit filter`` use :meth:`new_index` to compare it with the whole pool.
    """

    name: str = "near_duplicate"
    needs_response: bool = False
    threshold: float = field(default=0.7, validator=_threshold)
    num_perm: int = field(default=64, validator=attrs.validators.ge(8))
    seed: int = 1

    def new_index(self) -> NearDuplicateIndex:
        """An empty index for one run."""
        return NearDuplicateIndex(self)

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` when it nearly repeats ``parent`` itself."""
        a, b = shingles(candidate), shingles(parent)
        if a and b and len(a & b) / len(a | b) >= self.threshold:
            return Verdict.dropped(self.name, "near_duplicate", {"duplicate_of": parent.id})
        return Verdict.kept(self.name)
