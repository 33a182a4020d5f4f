"""Evolve instructions, fine-tune a model on them, and score it on GSM8K: the whole method.

Dry run (no API key, no download, CPU, a few minutes): the fake model evolves the seeds, a
tiny random model is trained for a few steps and evaluated on three made-up questions:

    python examples/evolve_train_eval.py --out runs/dry

A real run: a model for the evolution (any litellm model string), a base model to fine-tune,
and the GSM8K test file (JSONL with "question" and "answer"):

    python examples/evolve_train_eval.py --out runs/wizard --evolve-model openai/gpt-4o-mini \
        --seeds seeds.jsonl --rounds 4 --base-model Qwen/Qwen2.5-0.5B --gsm8k gsm8k_test.jsonl \
        --train-steps 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import evolkit
from evolkit.train import TrainConfig, train

SEEDS = [
    "A baker sells 12 loaves a day for 5 days. How many loaves does she sell?",
    "Tom has 30 marbles and gives a third of them away. How many are left?",
    "A train travels 60 km each hour for 3 hours. How far does it go?",
]
QUESTIONS = [  # written for this example, in the GSM8K layout
    {
        "question": "Ann has 4 pens and buys 3 more. How many pens does she have?",
        "answer": "4 + 3 = 7\n#### 7",
    },
    {
        "question": "A box holds 6 eggs. How many eggs are in 5 boxes?",
        "answer": "6 * 5 = 30\n#### 30",
    },
    {
        "question": "Sam had 20 dollars and spent 8. How much is left?",
        "answer": "20 - 8 = 12\n#### 12",
    },
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default=None, help="seed file (default: three built-in seeds)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--evolve-model", default=None, help="litellm model (default: fake model)")
    parser.add_argument(
        "--base-model", default=None, help="model to fine-tune (default: tiny random)"
    )
    parser.add_argument(
        "--gsm8k", default=None, help="GSM8K test JSONL (default: 3 made-up questions)"
    )
    parser.add_argument("--train-steps", type=int, default=20, help="0: full epochs")
    ns = parser.parse_args()
    ns.out.mkdir(parents=True, exist_ok=True)

    # 1. Evolve: the data set lands in OUT/evolved.jsonl (rows without an output are skipped later).
    backend = None
    if ns.evolve_model is None:
        from evolkit.testing import FakeBackend

        backend = FakeBackend.default()
    evolved = ns.out / "evolved.jsonl"
    run = evolkit.evolve(
        ns.seeds or SEEDS,
        rounds=ns.rounds,
        model=ns.evolve_model,
        backend=backend,
        output=evolved,
        seed=0,
        overwrite=True,
    )
    print(f"evolved: {sum(run.stats.rows_per_round.values())} rows in {evolved}")

    gsm8k = ns.gsm8k
    if gsm8k is None:
        gsm8k = ns.out / "gsm8k_demo.jsonl"
        gsm8k.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")

    # 2. Fine-tune (a tiny random model for a dry run) and export a merged model directory.
    base = ns.base_model
    if base is None:
        from evolkit.evaluate import random_model

        texts = [json.loads(line)["instruction"] for line in evolved.read_text().splitlines()]
        model, tokenizer = random_model(texts + [q["question"] for q in QUESTIONS])
        base = str(ns.out / "tiny-base")
        model.save_pretrained(base)
        tokenizer.save_pretrained(base)
    import torch

    dry = ns.base_model is None
    result = train(
        TrainConfig(
            data=evolved,
            model=base,
            output=ns.out / "model",
            max_steps=ns.train_steps or None,
            max_length=512 if dry else 2048,
            batch_size=2 if dry else 4,
            grad_accum=1 if dry else 16,
            use_cpu=not torch.cuda.is_available(),
            learning_rate=1e-3 if dry else 2e-5,
            logging_steps=5,
        ),
        show_progress=True,
    )
    print(
        f"trained: {result.global_step} steps, loss {result.train_loss:.3f}, "
        f"data {result.data.to_json()}"
    )

    # 3. Evaluate the trained model with the same Alpaca prompt it was trained on.
    from evolkit.evaluate import evaluate_gsm8k

    score = evaluate_gsm8k(
        model=str(result.model_dir),
        backend="hf",
        style="wizardmath",
        data=gsm8k,
        max_new_tokens=64 if dry else 512,
    )
    print(f"GSM8K: flexible {score.flexible}, strict {score.strict}")


if __name__ == "__main__":
    main()
