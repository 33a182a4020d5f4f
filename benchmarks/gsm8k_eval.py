"""Benchmark: evaluate a model on GSM8K and report accuracy, invalid rate and questions per second.

On a GPU machine with vLLM installed, generation goes through vLLM; otherwise through batched
transformers generation (CPU or GPU). Examples:

    # the full test set (1319 questions) from a local copy, real weights
    python benchmarks/gsm8k_eval.py --model Qwen/Qwen2.5-Math-1.5B --data gsm8k_test.jsonl

    # a CPU smoke run without any weights or data: a random model, synthetic questions
    python benchmarks/gsm8k_eval.py --random-init --synthetic 32 --limit 32 --max-new-tokens 64

``--random-init`` builds the model from its config with random weights (the config of
``--model`` when given, else a small Llama-style network with a tokenizer trained on the
questions). ``--synthetic N`` writes N generated questions in the GSM8K layout instead of
reading GSM8K. Figures from random weights measure throughput only: accuracy is near zero.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evolkit.evaluate import evaluate_gsm8k, load_gsm8k, make_generator, random_model

_TEMPLATES = (
    (
        "{name} buys {a} boxes of {b} pencils and gives {c} pencils to a friend. How many "
        "pencils does {name} have left?",
        lambda a, b, c: (f"{a}*{b}", a * b, f"{a * b}-{c}", a * b - c),
    ),
    (
        "A shop sells {a} bottles of juice a day for {b} days, then {c} more on a busy "
        "weekend. How many bottles does it sell in all?",
        lambda a, b, c: (f"{a}*{b}", a * b, f"{a * b}+{c}", a * b + c),
    ),
    (
        "{name} earns ${a} an hour and works {b} hours, then spends ${c} on groceries. How "
        "many dollars are left?",
        lambda a, b, c: (f"{a}*{b}", a * b, f"{a * b}-{c}", a * b - c),
    ),
)
_NAMES = ("Ava", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana")


def synthetic_questions(count: int, seed: int = 0) -> list[dict[str, str]]:
    """``count`` generated two-step word problems in the GSM8K layout."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        template, solve = _TEMPLATES[i % len(_TEMPLATES)]
        a, b = rng.randint(3, 40), rng.randint(2, 30)
        c = rng.randint(1, a * b - 1)
        first, first_value, second, answer = solve(a, b, c)
        question = template.format(name=rng.choice(_NAMES), a=a, b=b, c=c)
        solution = (
            f"First, {first} = <<{first}={first_value}>>{first_value:,}.\n"
            f"Then {second} = <<{second}={answer}>>{answer:,}.\n#### {answer:,}"
        )
        rows.append({"question": question, "answer": solution})
    return rows


def _random_generator(args: argparse.Namespace, questions: list[str]) -> Any:
    from evolkit.evaluate import HFGenerator, vllm_available

    if args.model is None:
        model, tokenizer = random_model(
            questions,
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            layers=args.layers,
            heads=max(1, args.hidden_size // 64),
            seed=args.seed,
        )
        return HFGenerator(model, tokenizer, batch_size=args.batch_size, device=args.device)
    use_vllm = args.backend == "vllm" or (args.backend == "auto" and vllm_available() and _cuda())
    if use_vllm:
        # vLLM builds the network from the config and fills it with random values.
        return make_generator(args.model, "vllm", seed=args.seed, options={"load_format": "dummy"})
    import torch
    import transformers

    config = transformers.AutoConfig.from_pretrained(args.model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
    torch.manual_seed(args.seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    if _cuda():
        model = model.to(torch.bfloat16)
    return HFGenerator(model, tokenizer, batch_size=args.batch_size, device=args.device)


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _device_text() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        cpu = platform.processor() or platform.machine()
        threads = torch.get_num_threads()
        return f"CPU ({cpu}, {threads} thread{'s' if threads != 1 else ''})"
    except ImportError:
        return "CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="hub name or local path (config only with --random-init)")
    parser.add_argument("--backend", choices=["auto", "vllm", "hf"], default="auto")
    parser.add_argument("--style", default="wizardmath")
    parser.add_argument("--data", help="GSM8K test JSONL (default: openai/gsm8k from the hub)")
    parser.add_argument("--synthetic", type=int, help="use N generated questions instead")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--random-init", action="store_true", help="random weights from config")
    parser.add_argument("--hidden-size", type=int, default=256, help="random model width")
    parser.add_argument("--layers", type=int, default=4, help="random model depth")
    parser.add_argument("--vocab-size", type=int, default=2048, help="random model vocabulary")
    parser.add_argument("--device", help="hf device (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", help="per-question records (JSONL)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        data: Any = args.data
        if args.synthetic:
            data = Path(scratch) / "synthetic.jsonl"
            rows = synthetic_questions(args.synthetic, args.seed)
            data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        questions = load_gsm8k(data, split="test", limit=args.limit)
        started = time.perf_counter()
        generator = None
        if args.random_init:
            generator = _random_generator(args, [item.question for item in questions.items])
        result = evaluate_gsm8k(
            args.model,
            backend=args.backend,
            style=args.style,
            data=questions,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            seed=args.seed,
            generator=generator,
            output=args.output,
        )
        total = time.perf_counter() - started

    figures = {
        "device": _device_text(),
        "backend": result.backend,
        "model": result.model if not args.random_init else f"random-init {result.model}",
        "style": result.style,
        "questions": result.n,
        "accuracy_flexible": result.flexible,
        "accuracy_strict": result.strict,
        "invalid_rate": result.invalid_rate,
        "stderr": result.stderr,
        "ci95": list(result.ci95),
        "generation_seconds": round(result.seconds, 2),
        "questions_per_second": round(result.questions_per_second, 3),
        "wall_seconds_with_load": round(total, 2),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "warnings": list(result.warnings),
    }
    for key, value in figures.items():
        print(f"{key:24} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
