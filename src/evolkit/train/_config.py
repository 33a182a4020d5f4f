"""The settings of one training run and what it reports back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from attrs import field, frozen

__all__ = ["DataFormat", "DataReport", "TrainConfig", "TrainResult"]

DataFormat = Literal["auto", "evolkit", "alpaca", "messages"]
DATA_FORMATS: tuple[str, ...] = ("auto", "evolkit", "alpaca", "messages")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"TrainConfig.{attribute.name} must be > 0, got {value}")


def _fraction(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"TrainConfig.{attribute.name} must be in [0, 1), got {value}")


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: float | int) -> None:
    if value < 0:
        raise ValueError(f"TrainConfig.{attribute.name} must be >= 0, got {value}")


def _one_of(*choices: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise ValueError(
                f"TrainConfig.{attribute.name} must be one of {', '.join(choices)}; got {value!r}"
            )

    return check


def _template_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value != "chat":
        from evolkit.templates import get_template

        get_template(value)  # raises UnknownNameError naming the known templates


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _reporters(value: Any) -> tuple[str, ...]:
    return _names(value) or ()


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()}


@frozen(kw_only=True)
class TrainConfig:
    """Everything that decides how a model is fine-tuned on an evolved data set.

    The defaults follow the WizardLM / WizardMath recipe: 3 epochs, learning rate 2e-5 with
    cosine decay and a short warmup, sequences of up to 2048 tokens, loss on response tokens
    only. The global batch is ``batch_size * grad_accum * number of processes`` (the papers
    used 64 to 128 examples; with packing a row holds several examples).

    ``packing=None`` packs where the attention backend keeps packed examples apart and trains
    on padded batches elsewhere; ``True`` asks for packing and fails where it would be wrong.
    ``bf16=None`` uses bfloat16 where the accelerator supports it. ``attn_implementation=None``
    picks ``flash_attention_2`` on CUDA when the ``flash-attn`` package is installed, else
    ``sdpa``. ``optim=None`` uses ``adamw_torch_fused`` on CUDA, ``adamw_torch`` elsewhere.
    ``max_steps`` (when set) overrides ``epochs``. ``resume`` continues from the last
    checkpoint under ``output/checkpoints`` (a fresh start when there is none).
    """

    data: Path = field(converter=Path)
    model: str = field(validator=attrs.validators.instance_of(str))
    output: Path = field(converter=Path)
    data_format: str = field(default="auto", validator=_one_of(*DATA_FORMATS))
    template: str = field(default="alpaca", validator=_template_name)
    epochs: float = field(default=3.0, validator=_positive)
    learning_rate: float = field(default=2e-5, validator=_positive)
    max_length: int = field(default=2048, validator=_positive)
    batch_size: int = field(default=4, validator=_positive)
    grad_accum: int = field(default=8, validator=_positive)
    max_steps: int | None = field(default=None, validator=_positive)
    warmup_ratio: float = field(default=0.03, validator=_fraction)
    lr_scheduler: str = "cosine"
    weight_decay: float = field(default=0.0, validator=_non_negative)
    max_grad_norm: float = field(default=1.0, validator=_non_negative)
    packing: bool | None = None
    lora: bool = False
    qlora: bool = False
    lora_r: int = field(default=16, validator=_positive)
    lora_alpha: int = field(default=32, validator=_positive)
    lora_dropout: float = field(default=0.05, validator=_fraction)
    lora_target_modules: tuple[str, ...] | None = field(default=None, converter=_names)
    bf16: bool | None = None
    gradient_checkpointing: bool = True
    attn_implementation: str | None = None
    optim: str | None = None
    seed: int = 42
    logging_steps: int = field(default=10, validator=_positive)
    save_steps: int = field(default=500, validator=_positive)
    save_total_limit: int | None = field(default=2, validator=_positive)
    resume: bool = False
    export: bool = True
    report_to: tuple[str, ...] = field(default=(), converter=_reporters)
    trust_remote_code: bool = False
    use_cpu: bool = False
    dataloader_num_workers: int = field(default=0, validator=_non_negative)

    @property
    def uses_lora(self) -> bool:
        """True for LoRA and QLoRA (QLoRA is LoRA on a 4-bit base)."""
        return self.lora or self.qlora

    @property
    def checkpoint_dir(self) -> Path:
        """Where the trainer writes ``checkpoint-N`` folders and resumes from."""
        return self.output / "checkpoints"


@frozen
class DataReport:
    """What happened to the rows of the data file on their way to the trainer.

    ``skipped`` maps a reason to a count: ``no_output`` (a row with no response, e.g. an
    instruction the evolution eliminated), ``too_long`` (longer than ``max_length`` tokens once
    rendered), ``not_single_turn`` (a conversation that the plain-text template cannot render),
    ``template_mismatch`` (the chat template renders a turn differently on its own).
    """

    rows: int
    used: int
    skipped: Mapping[str, int] = field(factory=dict, converter=_counts)
    tokens: int = 0
    trained_tokens: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "used": self.used,
            "skipped": dict(self.skipped),
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
        }


@frozen(kw_only=True)
class TrainResult:
    """The outcome of :func:`evolkit.train.train`.

    ``model_dir`` is the exported Hugging Face model (LoRA merged into the base) with its
    tokenizer, ``None`` when export was turned off. ``tokens_per_second`` is per process (per
    GPU), counting every non-padding token the model saw in this session.
    """

    model_dir: Path | None
    checkpoint_dir: Path
    data: DataReport
    global_step: int
    epochs: float
    train_loss: float
    losses: tuple[tuple[int, float], ...]
    train_tokens: int
    tokens_per_second: float
    runtime_s: float
    packing: bool
    packing_note: str
    attn_implementation: str
    world_size: int = 1
    resumed_from: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir) if self.model_dir is not None else None,
            "checkpoint_dir": str(self.checkpoint_dir),
            "data": self.data.to_json(),
            "global_step": self.global_step,
            "epochs": self.epochs,
            "train_loss": self.train_loss,
            "losses": [list(pair) for pair in self.losses],
            "train_tokens": self.train_tokens,
            "tokens_per_second": self.tokens_per_second,
            "runtime_s": self.runtime_s,
            "packing": self.packing,
            "packing_note": self.packing_note,
            "attn_implementation": self.attn_implementation,
            "world_size": self.world_size,
            "resumed_from": str(self.resumed_from) if self.resumed_from is not None else None,
        }
