"""Building TRL's SFTTrainer for a :class:`TrainConfig`, running it, exporting the model.

Imported only from inside :func:`evolkit.train.train`: it imports torch, transformers, TRL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from attrs import frozen
from transformers import AutoModelForCausalLM, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint
from trl.trainer.sft_config import SFTConfig
from trl.trainer.sft_trainer import SFTTrainer

from evolkit.errors import ConfigError
from evolkit.train import _model
from evolkit.train._config import DataReport, TrainConfig, TrainResult
from evolkit.train._data import read_examples
from evolkit.train._encode import encode_examples
from evolkit.train._pack import build_dataset, make_collator
from evolkit.train._progress import ProgressDisplay, TokensPerSecond

__all__ = ["Prepared", "prepare", "run"]


@frozen
class Prepared:
    """A trainer ready to run, with what was decided on the way."""

    trainer: Any
    tokenizer: Any
    report: DataReport
    packing: str | None
    packing_note: str
    attn_implementation: str
    bf16: bool
    rate: TokensPerSecond


def _optim(config: TrainConfig) -> str:
    if config.optim:
        return config.optim
    return (
        "adamw_torch_fused" if torch.cuda.is_available() and not config.use_cpu else "adamw_torch"
    )


def _is_moe(model: Any) -> bool:
    """Mixture-of-experts models leave some experts unused in a step (DDP must look for them)."""
    text = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    return hasattr(text, "output_router_logits") or hasattr(text, "num_experts")


def _sft_config(config: TrainConfig, bf16: bool, show_progress: bool, moe: bool) -> SFTConfig:
    kwargs: dict[str, Any] = {
        "output_dir": str(config.checkpoint_dir),
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps or -1,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "bf16": bf16,
        "fp16": False,
        "activation_checkpointing": config.gradient_checkpointing,
        "optim": _optim(config),
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "report_to": list(config.report_to) or "none",
        "use_cpu": config.use_cpu,
        "dataloader_num_workers": config.dataloader_num_workers,
        "include_num_input_tokens_seen": "non_padding",
        # The data set is tokenized, masked and packed already; TRL only batches it.
        "max_length": None,
        "packing": False,
        "padding_free": False,
        "completion_only_loss": False,
        "dataset_num_proc": None,
        "disable_tqdm": show_progress,
        "trust_remote_code": config.trust_remote_code,
        # Every parameter of a dense model gets a gradient each step; saves a graph traversal.
        "ddp_find_unused_parameters": None if moe else False,
    }
    if config.gradient_checkpointing:
        kwargs["activation_checkpointing_kwargs"] = {"use_reentrant": False}
    return SFTConfig(**kwargs)


def prepare(
    config: TrainConfig,
    callbacks: Sequence[TrainerCallback] = (),
    show_progress: bool = False,
) -> Prepared:
    """Read and encode the data, load the model, and build the trainer (without training)."""
    if not config.data.exists():
        raise ConfigError(f"training data {config.data} does not exist (check --data)")
    _model.check_qlora(config)
    examples, rows, skipped = read_examples(config.data, config.data_format)
    tokenizer = _model.load_tokenizer(config)
    encoded, encode_skipped = encode_examples(
        examples, tokenizer, config.template, config.max_length
    )
    for reason, n in encode_skipped.items():
        skipped[reason] = skipped.get(reason, 0) + n
    report = DataReport(
        rows=rows,
        used=len(encoded),
        skipped=skipped,
        tokens=sum(len(item.input_ids) for item in encoded),
        trained_tokens=sum(item.trained_tokens for item in encoded),
    )
    if not encoded:
        raise ConfigError(
            f"no usable training rows in {config.data}: {rows} read, skipped {skipped} "
            "(rows need an output, and must fit in --max-length tokens)"
        )

    bf16 = _model.use_bf16(config)
    attn = _model.choose_attn_implementation(config, bf16)
    model = _model.load_model(config, tokenizer, attn, bf16)
    # No KV cache in training: with one, transformers would not read packed position ids.
    model.config.use_cache = False
    mode, note = _model.packing_support(model, attn)
    if config.packing is False:
        mode, note = None, "packing turned off: batches are padded to their longest example"
    elif config.packing and mode is None:
        raise ConfigError(f"packing was asked for, but {note.split(';')[0]} (use --no-packing)")

    args = _sft_config(config, bf16, show_progress, _is_moe(model))
    dataset = build_dataset(encoded, mode, config.max_length)
    rate = TokensPerSecond()
    all_callbacks: list[TrainerCallback] = [rate]
    if show_progress:
        all_callbacks.append(ProgressDisplay(rate))
    all_callbacks.extend(callbacks)
    with _model.quiet_peft():
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            data_collator=make_collator(mode, tokenizer.pad_token_id),
            peft_config=_model.lora_config(config) if config.uses_lora else None,
            callbacks=all_callbacks,
        )
    if show_progress:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
    # Tokens per second goes first after the flow callback, so every reporter logs it.
    handler = trainer.callback_handler.callbacks
    handler.remove(rate)
    handler.insert(1, rate)
    return Prepared(trainer, tokenizer, report, mode, note, attn, bf16, rate)


def _resume_point(config: TrainConfig) -> str | None:
    if not config.resume or not config.checkpoint_dir.is_dir():
        return None
    last = get_last_checkpoint(str(config.checkpoint_dir))  # type: ignore[no-untyped-call, unused-ignore]
    return str(last) if last else None


def run(
    config: TrainConfig,
    callbacks: Sequence[TrainerCallback] = (),
    show_progress: bool = False,
) -> TrainResult:
    """Train as configured and export the model; see :func:`evolkit.train.train`."""
    prepared = prepare(config, callbacks, show_progress)
    trainer = prepared.trainer
    resume = _resume_point(config)
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    runtime = time.perf_counter() - started
    state = trainer.state
    world = max(1, int(trainer.args.world_size))
    session_tokens = state.num_input_tokens_seen - getattr(
        trainer, "_initial_num_input_tokens_seen", 0
    )
    model_dir = export(prepared, config) if config.export else None
    losses = tuple(
        (int(entry["step"]), float(entry["loss"])) for entry in state.log_history if "loss" in entry
    )
    result = TrainResult(
        model_dir=model_dir,
        checkpoint_dir=config.checkpoint_dir,
        data=prepared.report,
        global_step=int(state.global_step),
        epochs=float(state.epoch or 0.0),
        train_loss=float(output.training_loss),
        losses=losses,
        train_tokens=int(state.num_input_tokens_seen),
        tokens_per_second=session_tokens / runtime / world if runtime > 0 else 0.0,
        runtime_s=runtime,
        packing=prepared.packing is not None,
        packing_note=prepared.packing_note,
        attn_implementation=prepared.attn_implementation,
        world_size=world,
        resumed_from=Path(resume) if resume else None,
    )
    if trainer.accelerator.is_main_process:
        config.output.mkdir(parents=True, exist_ok=True)
        (config.output / "train_report.json").write_text(
            json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8"
        )
    return result


def export(prepared: Prepared, config: TrainConfig) -> Path:
    """Write a plain Hugging Face model directory (LoRA merged into the base) to ``output``.

    The directory holds the weights (safetensors), config, generation config and tokenizer,
    and loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` and in vLLM.
    """
    trainer = prepared.trainer
    out = config.output
    if not config.uses_lora:
        trainer.model.config.use_cache = True
        trainer.save_model(str(out))  # gathers sharded weights under FSDP / DeepSpeed
    else:
        adapter = out / "adapter"
        trainer.save_model(str(adapter))
        if trainer.accelerator.is_main_process:
            merge_adapter(config, adapter, out, prepared.tokenizer, prepared.bf16)
    trainer.accelerator.wait_for_everyone()
    return out


def merge_adapter(
    config: TrainConfig, adapter: Path, out: Path, tokenizer: Any, bf16: bool
) -> None:
    """Load the base model unquantized, merge the LoRA adapter into it, save it with the tokenizer.

    The base is reloaded (in bf16 when training ran in bf16) rather than merged in place, so
    the same path serves LoRA and QLoRA (whose 4-bit base must not be merged into) and
    sharded multi-GPU runs.
    """
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(
        config.model,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        trust_remote_code=config.trust_remote_code,
    )
    _model.fit_embeddings(base, tokenizer)
    with _model.quiet_peft():
        merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
