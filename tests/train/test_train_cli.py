"""``evolkit train`` options, and ``evolkit.train`` without the training libraries."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evolkit.errors import ConfigError
from evolkit.train import TrainConfig
from evolkit.train._cli import add_subcommand, config_from_args


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="evolkit")
    add_subcommand(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_options_become_a_config(tmp_path: Path) -> None:
    args = _parse(
        [
            "train",
            "--data",
            "out.jsonl",
            "--model",
            "org/base",
            "--output",
            str(tmp_path),
            "--lora",
            "--epochs",
            "2",
            "--lr",
            "1e-4",
            "--max-length",
            "1024",
            "--batch-size",
            "2",
            "--grad-accum",
            "16",
            "--no-packing",
            "--template",
            "chat",
            "--resume",
        ]
    )
    config = config_from_args(args)
    assert callable(args.func)
    assert config == TrainConfig(
        data=Path("out.jsonl"),
        model="org/base",
        output=tmp_path,
        lora=True,
        epochs=2.0,
        learning_rate=1e-4,
        max_length=1024,
        batch_size=2,
        grad_accum=16,
        packing=False,
        template="chat",
        resume=True,
    )


def test_defaults_follow_the_paper_recipe() -> None:
    config = config_from_args(_parse(["train", "--data", "d", "--model", "m", "--output", "o"]))
    assert (config.epochs, config.learning_rate, config.max_length) == (3.0, 2e-5, 2048)
    assert config.packing is None and config.template == "alpaca" and not config.uses_lora
    assert (
        _parse(["train", "--data", "d", "--model", "m", "--output", "o", "--packing"]).packing
        is True
    )


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="epochs"):
        config_from_args(
            _parse(["train", "--data", "d", "--model", "m", "--output", "o", "--epochs", "0"])
        )
    with pytest.raises(Exception, match="unknown prompt template 'vicuna'"):
        config_from_args(
            _parse(
                ["train", "--data", "d", "--model", "m", "--output", "o", "--template", "vicuna"]
            )
        )


_NO_TORCH = """
import sys
for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
    sys.modules[name] = None  # any import of them fails
import evolkit.train
from evolkit.errors import MissingExtraError
from evolkit.train import TrainConfig, train
config = TrainConfig(data="d.jsonl", model="m", output="o")
try:
    train(config)
except MissingExtraError as exc:
    print("MISSING:", exc)
"""


def test_import_without_the_training_libraries() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "MISSING: torch is not installed" in done.stdout
    assert "evolkit[train]" in done.stdout


@pytest.mark.slow
def test_module_entry_point_trains(tiny_model: Path, tmp_path: Path, make_rows: Any) -> None:
    pytest.importorskip("trl")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(1)), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evolkit.train",
            "--data",
            str(data),
            "--model",
            str(tiny_model),
            "--output",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--grad-accum",
            "1",
            "--max-length",
            "256",
            "--cpu",
            "--no-gradient-checkpointing",
            "--logging-steps",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 of 8 rows used" in done.stderr
    assert "tok/s/GPU" in done.stderr
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "evolkit.train",
            "--data",
            str(tmp_path / "nope.jsonl"),
            "--model",
            str(tiny_model),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_two_processes_share_the_work(tiny_model: Path, tmp_path: Path, make_rows: Any) -> None:
    """Data parallel over two CPU processes (gloo): the same code path as several GPUs."""
    pytest.importorskip("trl")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(1)), encoding="utf-8")
    out = tmp_path / "ddp"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "-m",
            "evolkit.train",
            "--data",
            str(data),
            "--model",
            str(tiny_model),
            "--output",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "1",
            "--grad-accum",
            "1",
            "--max-length",
            "256",
            "--cpu",
            "--no-gradient-checkpointing",
            "--save-steps",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "train_report.json").read_text())
    assert report["world_size"] == 2 and report["global_step"] == 2
    assert done.stderr.count("rows used") == 1  # one summary, from the main process
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert (out / "model.safetensors").is_file()
