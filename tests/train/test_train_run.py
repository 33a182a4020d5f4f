"""Training end to end on a tiny model: the loss falls, resume is exact, the export loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from transformers import TrainerCallback  # noqa: E402

from evolkit.errors import ConfigError  # noqa: E402
from evolkit.train import TrainConfig, train  # noqa: E402


def _data(tmp_path: Path, make_rows: Any, copies: int = 2) -> Path:
    rows = make_rows(copies)
    rows.append({**rows[0], "id": "eliminated", "output": None})  # skipped and counted
    path = tmp_path / "evolved.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _config(tiny_model: Path, data: Path, output: Path, **changes: Any) -> TrainConfig:
    settings: dict[str, Any] = {
        "data": data,
        "model": str(tiny_model),
        "output": output,
        "max_length": 256,
        "batch_size": 4,
        "grad_accum": 1,
        "learning_rate": 1e-2,
        "warmup_ratio": 0.0,
        "lr_scheduler": "linear",
        "use_cpu": True,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 1000,
        "seed": 7,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def _weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.slow
def test_loss_goes_down_and_export_generates(
    tiny_model: Path, tmp_path: Path, make_rows: Any
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = _config(
        tiny_model, _data(tmp_path, make_rows), tmp_path / "out", max_steps=30, batch_size=2
    )
    result = train(config)
    assert result.data.rows == 17 and result.data.used == 16
    assert result.data.skipped == {"no_output": 1}
    assert result.packing and result.global_step == 30
    first = sum(loss for _, loss in result.losses[:3]) / 3
    last = sum(loss for _, loss in result.losses[-3:]) / 3
    assert last < 0.5 * first, result.losses
    assert result.train_tokens > 0 and result.tokens_per_second > 0
    report = json.loads((tmp_path / "out" / "train_report.json").read_text())
    assert report["data"]["skipped"] == {"no_output": 1} and report["global_step"] == 30

    # The export is a plain Hugging Face model directory with its tokenizer.
    assert result.model_dir == tmp_path / "out"
    model = AutoModelForCausalLM.from_pretrained(result.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(result.model_dir)
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id
    trained, initial = _weights(result.model_dir), _weights(tiny_model)
    assert any(not torch.equal(trained[k], initial[k]) for k in initial)
    prompt = tokenizer(
        "### Instruction:\nWhat is two plus three?\n\n### Response:\n", return_tensors="pt"
    )
    out = model.generate(
        **prompt, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    assert out.shape[1] > prompt["input_ids"].shape[1]


class StopAt(TrainerCallback):
    """Interrupts training after a given step, as a killed job would (after its checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


@pytest.mark.slow
def test_resumed_run_matches_uninterrupted(
    tiny_model: Path, tmp_path: Path, make_rows: Any
) -> None:
    data = _data(tmp_path, make_rows, copies=3)
    straight = train(_config(tiny_model, data, tmp_path / "a", max_steps=8, save_steps=4))

    interrupted = _config(tiny_model, data, tmp_path / "b", max_steps=8, save_steps=4)
    first = train(attrs.evolve(interrupted, export=False), callbacks=[StopAt(4)])
    assert first.global_step == 4 and first.model_dir is None
    assert (tmp_path / "b" / "checkpoints" / "checkpoint-4").is_dir()
    resumed = train(attrs.evolve(interrupted, resume=True))
    assert resumed.resumed_from == tmp_path / "b" / "checkpoints" / "checkpoint-4"
    assert resumed.global_step == 8

    # Same losses at every step (optimizer, scheduler and data position restored) ...
    straight_losses = dict(straight.losses)
    assert sorted(dict(resumed.losses)) == list(range(1, 9))
    for step, loss in resumed.losses:
        assert loss == pytest.approx(straight_losses[step], rel=1e-5, abs=1e-6), step
    # ... and the same final weights.
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    # ... while a fresh run that skipped the first half would differ.
    assert not torch.equal(
        a["model.layers.0.self_attn.q_proj.weight"],
        _weights(tiny_model)["model.layers.0.self_attn.q_proj.weight"],
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_lora_export_is_merged_into_the_base(
    tiny_model: Path, tmp_path: Path, make_rows: Any
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = _config(
        tiny_model,
        _data(tmp_path, make_rows),
        tmp_path / "lora",
        max_steps=6,
        lora=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
    )
    result = train(config)
    out = tmp_path / "lora"
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert not (out / "adapter_config.json").exists()  # the model directory is a plain model
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert tokenizer.pad_token_id != tokenizer.eos_token_id

    merged_w, base_w = _weights(out), _weights(tiny_model)
    changed = [k for k in base_w if not torch.equal(merged_w[k], base_w[k])]
    assert any("q_proj" in k for k in changed)  # the adapter was merged into the projections
    assert not any("norm" in k for k in changed)  # LoRA does not touch anything else

    # The merged model computes what base + adapter computes.
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with_adapter = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    ids = tokenizer("### Instruction:\nWhat is half of twelve?\n", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(
            merged(ids).logits, with_adapter(ids).logits, rtol=1e-4, atol=1e-4
        )
    generated = merged.generate(
        ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    assert generated.shape[1] > ids.shape[1]
    assert result.global_step == 6


def test_qlora_without_cuda_is_a_clear_error(
    tiny_model: Path, tmp_path: Path, make_rows: Any
) -> None:
    config = _config(tiny_model, _data(tmp_path, make_rows), tmp_path / "q", qlora=True)
    with pytest.raises(ConfigError, match="QLoRA needs"):
        train(config)


def test_packing_on_request_fails_where_it_would_be_wrong(
    tiny_model: Path, tmp_path: Path, make_rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evolkit.train import _model

    monkeypatch.setattr(_model, "packing_support", lambda model, attn: (None, "no masks; padded"))
    config = _config(tiny_model, _data(tmp_path, make_rows), tmp_path / "p", packing=True)
    with pytest.raises(ConfigError, match=r"packing was asked for.*--no-packing"):
        train(config)


def test_no_usable_rows_is_a_clear_error(tiny_model: Path, tmp_path: Path, make_rows: Any) -> None:
    config = _config(tiny_model, _data(tmp_path, make_rows), tmp_path / "s", max_length=8)
    with pytest.raises(ConfigError, match="no usable training rows"):
        train(config)
