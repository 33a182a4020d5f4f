"""Supervised fine-tuning on evolved data (``pip install 'evolkit[train]'``).

Reads the JSONL that :func:`evolkit.evolve` writes (or Alpaca JSON, or chat ``messages``
JSONL), renders every row with the prompt template shared with :mod:`evolkit.evaluate`
(:data:`evolkit.templates.ALPACA` by default, the model's chat template with
``template="chat"``), and fine-tunes with TRL's ``SFTTrainer`` on transformers, peft and
accelerate: loss on response tokens only, EOS learned, packing without attention across
examples, bf16, gradient checkpointing, LoRA / QLoRA, resume, and a merged export.

>>> from evolkit.train import TrainConfig, train
>>> result = train(TrainConfig(data="evolved.jsonl", model="Qwen/Qwen2.5-0.5B", output="out"))

Several GPUs or machines: ``accelerate launch --config_file examples/accelerate/fsdp2.yaml
-m evolkit.train --data ... --model ... --output ...``.

Importing this package needs none of the training libraries; :func:`train` raises
:class:`~evolkit.errors.MissingExtraError` when they are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evolkit.errors import missing_extra
from evolkit.train._config import DataReport, TrainConfig, TrainResult
from evolkit.train._data import ChatExample, Example, PromptExample, read_examples

__all__ = [
    "ChatExample",
    "DataReport",
    "Example",
    "PromptExample",
    "TrainConfig",
    "TrainResult",
    "read_examples",
    "train",
]

_REQUIRED = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


def _require() -> None:
    """Import the training stack, or raise the error that names the extra to install."""
    import importlib

    for name in _REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise missing_extra(name, "train", exc) from exc


def train(
    config: TrainConfig, *, callbacks: Sequence[Any] = (), show_progress: bool = False
) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data`` and export it to ``config.output``.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects. ``show_progress`` draws a
    progress bar with the loss and tokens per second per GPU. Under ``accelerate launch`` every
    process calls this; only the main process writes the exported model and the report.
    """
    _require()
    from evolkit.train._trainer import run

    return run(config, callbacks, show_progress)
