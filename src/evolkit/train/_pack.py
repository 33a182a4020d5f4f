"""Packing tokenized examples into full rows, and the collators that batch them.

Packing uses TRL's best-fit-decreasing packer (examples are never cut: every example is
shorter than the row, since longer ones were dropped). Each packed row records the length
of each example it holds (``seq_lengths``), from which the collators build position ids
that restart at 0 for every example:

* ``varlen`` (flash attention): TRL's padding-free collator flattens the batch into one
  sequence with cumulative sequence lengths; the kernel never attends across examples.
* ``masked`` (sdpa, eager, flex): :class:`PackedRowsCollator` keeps one row per packed row,
  with no attention mask, so transformers builds a block-diagonal causal mask from the
  position ids.
* no packing: TRL's padding collator pads each batch to its longest example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from datasets import Dataset

from evolkit.train._encode import IGNORE_INDEX, Encoded

__all__ = ["PackedRowsCollator", "build_dataset", "make_collator"]


def build_dataset(encoded: Sequence[Encoded], packing: str | None, max_length: int) -> Dataset:
    """The training set: one row per example, or packed rows of up to ``max_length`` tokens."""
    dataset = Dataset.from_dict(
        {
            "input_ids": [list(item.input_ids) for item in encoded],
            "labels": [list(item.labels) for item in encoded],
        }
    )
    if packing is None:
        return dataset
    import datasets
    from trl.data_utils import pack_dataset

    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        return pack_dataset(dataset, max_length, strategy="bfd")
    finally:
        if not quiet:
            datasets.enable_progress_bars()


def positions(seq_lengths: Sequence[int]) -> list[int]:
    """Position ids for a row holding examples of these lengths: 0..n-1 for each."""
    out: list[int] = []
    for length in seq_lengths:
        out.extend(range(int(length)))
    return out


class PackedRowsCollator:
    """Batch packed rows as ``(batch, longest row)`` with position ids and no attention mask.

    Padding at the end of a row forms a block of its own (positions restart at 0) with
    labels ``-100``; the first token of every example has label ``-100`` too, since no
    token of the previous example may predict it.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(row["input_ids"]) for row in rows)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids = row["input_ids"]
            n = len(ids)
            lengths = row.get("seq_lengths") or [n]
            input_ids[i, :n] = torch.as_tensor(ids, dtype=torch.long)
            row_labels = torch.as_tensor(row.get("labels", ids), dtype=torch.long)
            row_positions = torch.as_tensor(positions(lengths), dtype=torch.long)
            row_labels[row_positions == 0] = IGNORE_INDEX
            labels[i, :n] = row_labels
            position_ids[i, :n] = row_positions
            position_ids[i, n:] = torch.arange(width - n)
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


def make_collator(packing: str | None, pad_token_id: int) -> Any:
    """The collator for a packing mode (see the module docstring)."""
    if packing == "masked":
        return PackedRowsCollator(pad_token_id)
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(
        pad_token_id=pad_token_id, padding_free=packing == "varlen"
    )
