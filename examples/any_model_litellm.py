"""Evolve with any model litellm reaches: a hosted API, or your own vLLM or Ollama server.

    python examples/any_model_litellm.py                                  # offline fake model
    # a vLLM server (vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000):
    python examples/any_model_litellm.py --model hosted_vllm/Qwen/Qwen2.5-7B-Instruct \\
        --api-base http://localhost:8000/v1
    # an Ollama server (ollama pull llama3.1):
    python examples/any_model_litellm.py --model ollama/llama3.1 --api-base http://localhost:11434
    # any OpenAI-compatible endpoint:
    python examples/any_model_litellm.py --model openai/my-model \\
        --api-base http://host:9000/v1 --api-key sk-...
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import evolkit

SEEDS = [
    "Explain why the sea is salty.",
    "Write a two-line poem about a train at night.",
    "A shop sells pens at 3 for $2. How much do 12 pens cost?",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake/demo", help="litellm model string")
    parser.add_argument("--api-base", default=None, help="the server's URL")
    parser.add_argument("--api-key", default=os.environ.get("EVOLKIT_API_KEY"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight")
    parser.add_argument("--rpm", type=float, default=None, help="requests per minute limit")
    args = parser.parse_args(argv)

    # Everything in model_params goes to litellm.acompletion as is.
    params: dict[str, Any] = {}
    if args.api_base:
        params["api_base"] = args.api_base
    if args.api_key:
        params["api_key"] = args.api_key

    result = evolkit.evolve(
        SEEDS,
        rounds=args.rounds,
        model=args.model,
        model_params=params,
        concurrency=args.concurrency,
        rpm=args.rpm,
        retries=4,  # rate limits, timeouts and 5xx are retried with backoff
        timeout=120,
        # a small model writes better rewrites a little cooler
        mutate_params={"temperature": 0.7, "max_tokens": 512},
        respond_params={"temperature": 0.7, "max_tokens": 768},
    )
    stats = result.stats
    print(f"model {args.model}: {stats.rows} rows, {stats.kept} kept, {stats.dropped} dropped")
    print(f"tokens {stats.usage.total_tokens}, cost ${stats.usage.cost:.4f}")
    for inst in sorted(result, key=lambda i: i.round):
        if not inst.is_seed:
            print(f"- [{inst.operator}] {inst.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
