"""The ``evolkit train`` command."""

from __future__ import annotations

import argparse
import os
from typing import Any

from evolkit._arguments import Command
from evolkit.train._config import DATA_FORMATS, TrainConfig

__all__ = ["add_arguments", "add_subcommand", "config_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``evolkit train`` (shared with ``python -m evolkit.train``)."""
    d = TrainConfig.__attrs_attrs__  # defaults live in one place: the config class
    parser.add_argument("--data", required=True, help="evolkit JSONL, Alpaca JSON or chat JSONL")
    parser.add_argument("--model", required=True, help="Hugging Face model name or local path")
    parser.add_argument("--output", required=True, help="directory for the trained model")
    parser.add_argument("--data-format", choices=DATA_FORMATS, default=d.data_format.default)
    parser.add_argument(
        "--template",
        default=d.template.default,
        help="prompt template: alpaca (shared with evolkit eval) or chat (the model's own)",
    )
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter, export merged")
    parser.add_argument("--qlora", action="store_true", help="LoRA on a 4-bit base (CUDA only)")
    parser.add_argument("--lora-r", type=int, default=d.lora_r.default)
    parser.add_argument("--lora-alpha", type=int, default=d.lora_alpha.default)
    parser.add_argument("--epochs", type=float, default=d.epochs.default)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--lr", type=float, default=d.learning_rate.default, help="learning rate")
    parser.add_argument("--max-length", type=int, default=d.max_length.default)
    parser.add_argument(
        "--batch-size", type=int, default=d.batch_size.default, help="rows per GPU per step"
    )
    parser.add_argument("--grad-accum", type=int, default=d.grad_accum.default)
    parser.add_argument(
        "--packing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pack short examples into full rows (default: where the attention backend allows)",
    )
    parser.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=None, help="default: if supported"
    )
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=d.gradient_checkpointing.default,
    )
    parser.add_argument(
        "--attn",
        dest="attn_implementation",
        default=None,
        help="attention backend: flash_attention_2, sdpa, eager, ...",
    )
    parser.add_argument("--seed", type=int, default=d.seed.default)
    parser.add_argument("--save-steps", type=int, default=d.save_steps.default)
    parser.add_argument("--logging-steps", type=int, default=d.logging_steps.default)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument(
        "--no-export",
        dest="export",
        action="store_false",
        help="keep the checkpoints only, do not write the merged model",
    )
    parser.add_argument("--report-to", default="", help="e.g. wandb,tensorboard")
    parser.add_argument("--cpu", dest="use_cpu", action="store_true", help="train on the CPU")
    parser.add_argument("--trust-remote-code", action="store_true")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` the parsed options describe."""
    from evolkit.errors import ConfigError

    fields: dict[str, Any] = {
        name: getattr(args, name)
        for name in (
            "data",
            "model",
            "output",
            "data_format",
            "template",
            "lora",
            "qlora",
            "lora_r",
            "lora_alpha",
            "epochs",
            "max_steps",
            "max_length",
            "batch_size",
            "grad_accum",
            "packing",
            "bf16",
            "gradient_checkpointing",
            "attn_implementation",
            "seed",
            "save_steps",
            "logging_steps",
            "resume",
            "export",
            "report_to",
            "use_cpu",
            "trust_remote_code",
        )
    }
    fields["learning_rate"] = args.lr
    try:
        return TrainConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Train, then print where the model went and what happened to the data."""
    from rich.console import Console

    from evolkit.train import train

    config = config_from_args(args)
    result = train(config, show_progress=True)
    if os.environ.get("RANK", "0") != "0":  # under accelerate launch / torchrun: report once
        return 0
    console = Console(stderr=True)
    data = result.data
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(data.skipped.items())) or "none"
    console.print(
        f"[bold]data[/]: {data.used} of {data.rows} rows used (skipped: {skipped}); "
        f"{data.trained_tokens} of {data.tokens} tokens learned"
    )
    console.print(f"[bold]packing[/]: {result.packing_note}")
    console.print(
        f"[bold]trained[/]: {result.global_step} steps, {result.epochs:.2f} epochs, "
        f"loss {result.train_loss:.4f}, {result.tokens_per_second:,.0f} tokens/s per GPU"
    )
    if result.model_dir is not None:
        console.print(f"[bold]model[/]: {result.model_dir}")
    return 0


COMMAND = Command(
    "train",
    "fine-tune a model on evolved data (needs evolkit[train])",
    "Supervised fine-tuning, loss on responses only (docs/guides/train.md).",
    add_arguments,
    run,
)
add_subcommand = COMMAND.add_to
