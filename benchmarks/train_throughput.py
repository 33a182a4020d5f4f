"""Training throughput: evolkit.train (packing) against a plain transformers Trainer (padding).

Both paths train the same randomly initialised model (a Qwen2.5-0.5B-shaped config, or a tiny
one with ``--tiny``) on the same synthetic instruction data of variable length, with the same
settings (dtype, attention backend, gradient checkpointing, optimizer, learning rate, rows per
step). evolkit packs examples into full rows without attention across them; the baseline pads
each batch to its longest example. Figures:

* tokens/s per GPU: real (non-padding) tokens per second per process, after warm-up steps;
* MFU: useful FLOPs per second over the accelerator's peak, with per-token FLOPs
  ``6 * params + 6 * layers * hidden * (sum n^2 / sum n)`` (matmuls forward and backward, plus
  causal attention over each example's own length ``n``; recomputation from gradient
  checkpointing and padding are not useful work and are not counted).

Run: ``python benchmarks/train_throughput.py`` on a GPU; ``--device cpu --tiny`` as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}


def word(i: int) -> str:
    """The i-th synthetic word (letters only, so every pre-tokenizer keeps it whole)."""
    a, b, c = i // 676 % 26, i // 26 % 26, i % 26
    return "z" + chr(97 + a) + chr(97 + b) + chr(97 + c)


def build_tokenizer(directory: Path) -> Any:
    """A byte-level BPE tokenizer trained so that synthetic words are (almost all) one token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from evolkit.templates import ALPACA

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [" ".join(word(i) for i in range(j, 1000, 7)) for j in range(7)] * 20
    corpus += [ALPACA.render(word(1), ""), ALPACA.render(word(1), word(2))] * 3
    trainer = trainers.BpeTrainer(
        vocab_size=4000,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.save_pretrained(directory)
    return fast


def model_config(tiny: bool, vocab: int, tokenizer: Any) -> Any:
    from transformers import Qwen2Config

    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if tiny:
        return Qwen2Config(
            **ids,
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            tie_word_embeddings=True,
        )
    # The shape of Qwen2.5-0.5B (494M parameters), randomly initialised.
    return Qwen2Config(
        **ids,
        vocab_size=vocab,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
    )


def synthetic_rows(n: int, max_length: int, mean: float, seed: int) -> list[dict[str, Any]]:
    """Instruction rows whose token lengths are log-normal (long tail, like real SFT data)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        total = int(min(max_length - 80, max(24, rng.lognormvariate(math.log(mean), 0.8))))
        prompt = max(4, int(total * rng.uniform(0.15, 0.5)))
        words = lambda k: " ".join(word(rng.randrange(1000)) for _ in range(k))  # noqa: E731
        rows.append(
            {
                "id": str(i),
                "instruction": words(prompt),
                "input": "",
                "output": words(total - prompt),
                "parent_id": None,
                "operator": None,
                "round": 0,
                "metadata": {},
            }
        )
    return rows


class Timer:
    """Times the steps after ``warmup`` and counts the real tokens they processed."""

    def __new__(cls, warmup: int, cuda: bool) -> Any:
        from transformers import TrainerCallback

        class _Timer(TrainerCallback):
            def __init__(self) -> None:
                self.start = self.end = 0.0
                self.tokens0 = self.tokens1 = 0
                self.steps = 0

            def _now(self) -> float:
                if cuda:
                    import torch

                    torch.cuda.synchronize()
                return time.perf_counter()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if state.global_step == warmup:
                    self.start, self.tokens0 = self._now(), state.num_input_tokens_seen
                elif state.global_step > warmup:
                    self.end, self.tokens1 = self._now(), state.num_input_tokens_seen
                    self.steps = state.global_step - warmup

            def rate(self, world: int) -> float:
                return (self.tokens1 - self.tokens0) / max(1e-9, self.end - self.start) / world

        return _Timer()


def run_evolkit(ns: argparse.Namespace, model_dir: Path, data: Path, out: Path) -> dict[str, Any]:
    from evolkit.train import TrainConfig, train

    timer = Timer(ns.warmup, ns.device == "cuda")
    config = TrainConfig(
        data=data,
        model=str(model_dir),
        output=out,
        max_steps=ns.warmup + ns.steps,
        batch_size=ns.batch_size,
        grad_accum=1,
        max_length=ns.max_length,
        packing=True,
        gradient_checkpointing=ns.gradient_checkpointing,
        attn_implementation=ns.attn,
        use_cpu=ns.device == "cpu",
        bf16=ns.device == "cuda",
        save_steps=10**9,
        export=False,
        logging_steps=max(1, ns.steps),
        learning_rate=2e-5,
        seed=0,
    )
    result = train(config, callbacks=[timer])
    return {
        "tokens_per_s": timer.rate(result.world_size),
        "steps": timer.steps,
        "padding": 0.0,
        "note": result.packing_note,
        "attn": result.attn_implementation,
    }


def run_baseline(
    ns: argparse.Namespace, model_dir: Path, data: Path, out: Path, attn: str
) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from evolkit.train._data import read_examples
    from evolkit.train._encode import encode_examples

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples, _, _ = read_examples(data)
    encoded, _ = encode_examples(examples, tokenizer, "alpaca", ns.max_length)
    dataset = Dataset.from_dict(
        {
            "input_ids": [list(e.input_ids) for e in encoded],
            "labels": [list(e.labels) for e in encoded],
        }
    )
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, attn_implementation=attn, dtype=torch.float32
    )
    model.config.use_cache = False
    cuda = ns.device == "cuda"
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=ns.warmup + ns.steps,
        per_device_train_batch_size=ns.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=2e-5,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        bf16=cuda,
        activation_checkpointing=ns.gradient_checkpointing,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda,
        seed=0,
        report_to="none",
        save_strategy="no",
        logging_steps=max(1, ns.steps),
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
    )
    collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    timer = Timer(ns.warmup, cuda)
    pads: list[float] = []

    def counting(features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = collator(features)
        pads.append(1.0 - float(batch["attention_mask"].float().mean()))
        return batch  # type: ignore[no-any-return]

    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=counting, callbacks=[timer]
    )
    trainer.train()
    return {
        "tokens_per_s": timer.rate(max(1, args.world_size)),
        "steps": timer.steps,
        "padding": sum(pads) / max(1, len(pads)),
        "note": "padded to the longest in each batch",
        "attn": attn,
    }


def flops_per_token(config: Any, data: Path, max_length: int, model_dir: Path) -> float:
    """Useful training FLOPs per real token: 6 * params + causal attention over each example."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evolkit.train._data import read_examples
    from evolkit.train._encode import encode_examples

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples, _, _ = read_examples(data)
    encoded, _ = encode_examples(examples, tokenizer, "alpaca", max_length)
    lengths = [len(e.input_ids) for e in encoded]
    import torch

    with torch.device("meta"):  # count the parameters without allocating them
        model = AutoModelForCausalLM.from_config(config)
    params = sum(p.numel() for p in model.parameters())
    attention = (
        6
        * config.num_hidden_layers
        * config.hidden_size
        * sum(n * n for n in lengths)
        / sum(lengths)
    )
    return float(6 * params + attention)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument(
        "--tiny", action="store_true", help="a tiny model and short rows (smoke test)"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 30; tiny 4)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps (default 5; tiny 2)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="rows per step (default 8; tiny 4)"
    )
    parser.add_argument("--max-length", type=int, default=None, help="default 2048; tiny 256")
    parser.add_argument("--mean-length", type=float, default=None, help="mean example tokens")
    parser.add_argument(
        "--attn", default=None, help="attention backend (default: evolkit's choice)"
    )
    parser.add_argument(
        "--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="for MFU; known GPUs detected"
    )
    parser.add_argument("--only", choices=("evolkit", "baseline"), default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ns = parser.parse_args(argv)
    ns.steps = ns.steps or (4 if ns.tiny else 30)
    ns.warmup = ns.warmup if ns.warmup is not None else (2 if ns.tiny else 5)
    ns.batch_size = ns.batch_size or (4 if ns.tiny else 8)
    ns.max_length = ns.max_length or (256 if ns.tiny else 2048)
    mean = ns.mean_length or (60.0 if ns.tiny else 350.0)

    import torch

    if ns.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: use --device cpu --tiny for a smoke test", file=sys.stderr)
        return 2
    peak = ns.peak_tflops
    if peak is None and ns.device == "cuda":
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    vocab = 4096 if ns.tiny else 151936
    steps_total = ns.warmup + ns.steps
    n_rows = int(steps_total * ns.batch_size * max(1.0, ns.max_length / mean) * 1.3) + 16

    with tempfile.TemporaryDirectory(prefix="evolkit-bench-") as tmp:
        work = Path(tmp)
        model_dir = work / "model"
        tokenizer = build_tokenizer(model_dir)
        torch.manual_seed(0)
        from transformers import AutoModelForCausalLM

        config = model_config(ns.tiny, vocab, tokenizer)
        AutoModelForCausalLM.from_config(config).save_pretrained(model_dir)
        data = work / "data.jsonl"
        rows = synthetic_rows(n_rows, ns.max_length, mean, seed=0)
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        per_token = flops_per_token(config, data, ns.max_length, model_dir)

        results: dict[str, dict[str, Any]] = {}
        if ns.only in (None, "evolkit"):
            results["evolkit (packing)"] = run_evolkit(ns, model_dir, data, work / "evolkit")
        if ns.only in (None, "baseline"):
            # the same attention backend as evolkit's run (flash-attn unpads padded batches too)
            attn = results["evolkit (packing)"]["attn"] if results else (ns.attn or "sdpa")
            results["transformers Trainer (padding)"] = run_baseline(
                ns, model_dir, data, work / "base", attn
            )

    device = torch.cuda.get_device_name() if ns.device == "cuda" else "cpu"
    print(
        f"device: {device}; model: {'tiny' if ns.tiny else 'Qwen2.5-0.5B shape'}; "
        f"rows/step {ns.batch_size}, max length {ns.max_length}, mean example {mean:.0f} tokens; "
        f"{per_token / 1e9:.3f} GFLOP/token"
    )
    print(f"{'path':34} {'tokens/s/GPU':>13} {'MFU':>7} {'padding':>8}  attention")
    for name, r in results.items():
        mfu = r["tokens_per_s"] * per_token / (peak * 1e12) if peak else None
        r["mfu"] = mfu
        shown = f"{100 * mfu:6.2f}%" if mfu is not None else "    n/a"
        print(
            f"{name:34} {r['tokens_per_s']:13,.0f} {shown:>7} "
            f"{100 * r['padding']:7.1f}%  {r['attn']}"
        )
    if len(results) == 2:
        a, b = (r["tokens_per_s"] for r in results.values())
        print(f"speed-up of packing over padding: {a / b:.2f}x")
    if ns.json:
        ns.json.write_text(
            json.dumps(
                {"device": device, "flops_per_token": per_token, "results": results}, indent=2
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
