"""Packing: several examples per row, position ids restart, no attention across examples."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from evolkit.templates import ALPACA  # noqa: E402
from evolkit.train._config import TrainConfig  # noqa: E402
from evolkit.train._data import PromptExample  # noqa: E402
from evolkit.train._encode import IGNORE_INDEX, encode_examples  # noqa: E402
from evolkit.train._model import ensure_pad_token, packing_support  # noqa: E402
from evolkit.train._pack import build_dataset, make_collator  # noqa: E402


@pytest.fixture
def encoded(tiny_tokenizer: Any, facts: list[tuple[str, str, str]]) -> tuple[Any, list[Any]]:
    tok = copy.deepcopy(tiny_tokenizer)
    ensure_pad_token(tok)
    items, skipped = encode_examples([PromptExample(*f) for f in facts], tok, ALPACA, 512)
    assert not skipped
    return tok, items


def _model(path: Path, attn: str) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        path, attn_implementation=attn, dtype=torch.float32
    )
    return model.eval()


def test_rows_hold_several_examples_and_positions_restart(encoded: tuple[Any, list[Any]]) -> None:
    tok, items = encoded
    longest = max(len(i.input_ids) for i in items)
    dataset = build_dataset(items, "masked", 3 * longest)
    assert len(dataset) < len(items)  # packing made fewer, fuller rows
    assert sum(len(r["seq_lengths"]) for r in dataset) == len(items)
    batch = make_collator("masked", tok.pad_token_id)([dataset[i] for i in range(len(dataset))])
    assert "attention_mask" not in batch
    by_content = {tuple(i.input_ids): i for i in items}
    for row, ids, labels, positions in zip(
        dataset, batch["input_ids"], batch["labels"], batch["position_ids"], strict=True
    ):
        assert len(row["seq_lengths"]) >= 1
        start = 0
        for length in row["seq_lengths"]:
            # each example sits whole in the row, numbered from 0
            assert positions[start : start + length].tolist() == list(range(length))
            piece = tuple(ids[start : start + length].tolist())
            assert piece in by_content
            original = by_content[piece]
            # its labels are its own, and its first token is not predicted by the one before
            assert labels[start] == IGNORE_INDEX
            assert labels[start + 1 : start + length].tolist() == list(original.labels[1:])
            start += length
        # what is left is padding: never learned, a block of its own
        assert (labels[start:] == IGNORE_INDEX).all()
        assert (ids[start:] == tok.pad_token_id).all()
        if start < len(positions):
            assert positions[start] == 0


@pytest.mark.parametrize(
    ("attn", "mode"), [("sdpa", "masked"), ("eager", "masked"), ("sdpa", "varlen")]
)
def test_packed_output_equals_output_alone(
    tiny_model: Path, encoded: tuple[Any, list[Any]], attn: str, mode: str
) -> None:
    tok, items = encoded
    model = _model(tiny_model, attn)
    assert packing_support(model, attn)[0] == "masked"
    longest = max(len(i.input_ids) for i in items)
    dataset = build_dataset(items, mode, 4 * longest)
    rows = [dataset[i] for i in range(len(dataset))]
    batch = make_collator(mode, tok.pad_token_id)(rows)
    # Training runs without a KV cache (SFTTrainer passes use_cache=False); a cache would
    # make transformers ignore the packed position ids.
    inputs = {k: batch[k] for k in ("input_ids", "position_ids")} | {"use_cache": False}
    with torch.no_grad():
        packed = model(**inputs).logits
        # control: the same rows with plain causal attention do see across examples
        leaky = model(
            input_ids=batch["input_ids"], attention_mask=torch.ones_like(batch["input_ids"])
        ).logits
    lengths = [n for row in rows for n in row["seq_lengths"]]
    assert max(len(r["seq_lengths"]) for r in rows) > 1
    flat_packed = packed.reshape(-1, packed.shape[-1])
    flat_leaky = leaky.reshape(-1, leaky.shape[-1])
    flat_ids = batch["input_ids"].reshape(-1)
    offsets = _starts(rows, batch["input_ids"].shape[1], mode)
    compared = leaked = 0
    for start, length in zip(offsets, lengths, strict=True):
        ids = flat_ids[start : start + length]
        with torch.no_grad():
            alone = model(input_ids=ids[None]).logits[0]
        torch.testing.assert_close(flat_packed[start : start + length], alone, rtol=1e-4, atol=1e-4)
        compared += 1
        if start % batch["input_ids"].shape[1] and not torch.allclose(
            flat_leaky[start : start + length], alone, rtol=1e-4, atol=1e-4
        ):
            leaked += 1
    assert compared == len(items)
    assert leaked > 0  # without the position-id mask the comparison would fail


def _starts(rows: list[dict[str, Any]], width: int, mode: str) -> list[int]:
    """Offsets of every example in the flattened batch."""
    starts = []
    for r, row in enumerate(rows):
        offset = 0 if mode == "varlen" else r * width
        if mode == "varlen":
            offset = sum(sum(prev["seq_lengths"]) for prev in rows[:r])
        for length in row["seq_lengths"]:
            starts.append(offset)
            offset += length
    return starts


def test_packing_support_by_backend(tiny_model: Path) -> None:
    model = _model(tiny_model, "sdpa")
    assert packing_support(model, "sdpa")[0] == "masked"
    assert packing_support(model, "eager")[0] == "masked"
    assert packing_support(model, "flash_attention_2")[0] == "varlen"
    assert packing_support(model, "some_custom_kernel")[0] is None

    class Legacy(torch.nn.Module):
        _supports_attention_backend = False

    mode, note = packing_support(Legacy(), "sdpa")
    assert mode is None and "padded" in note


def test_trainer_batches_follow_the_packing_setting(
    tiny_model: Path, tmp_path: Path, make_rows: Any
) -> None:
    import json

    from evolkit.train._trainer import prepare

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(2)), encoding="utf-8")
    base = TrainConfig(
        data=data,
        model=str(tiny_model),
        output=tmp_path / "out",
        max_length=256,
        batch_size=4,
        use_cpu=True,
        gradient_checkpointing=False,
        max_steps=1,
    )
    packed = prepare(base)
    assert packed.packing == "masked" and packed.attn_implementation == "sdpa"
    batch = next(iter(packed.trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and "position_ids" in batch
    assert (batch["position_ids"] == 0).sum() > batch["input_ids"].shape[0]
    padded = prepare(TrainConfig(**{**_fields(base), "packing": False}))
    assert padded.packing is None
    batch = next(iter(padded.trainer.get_train_dataloader()))
    assert "attention_mask" in batch and batch["input_ids"].shape[0] == 4
    assert padded.report.used == packed.report.used == 16


def _fields(config: TrainConfig) -> dict[str, Any]:
    import attrs

    return attrs.asdict(config, recurse=False)
