"""How close the ``--dry-run`` forecast comes to the run that follows, by pilot share.

The fake server answers like the test model, except that a share of rewrite requests (drawn by
hashing the prompt) gets a refusal, which the eliminator drops: a dropped evolution is not
judged, and its parent goes on, so calls vary between items as with a real model. For each
pilot share, a forecast and then the real run go to a fresh output; the script prints the
forecast and actual calls and tokens, the error, and the forecast's own 95% margin.

    python benchmarks/forecast_accuracy.py --seeds 200 --rounds 2 --shares 0.05,0.1,0.2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

from evolkit._types import ChatMessage
from evolkit.cost import aforecast
from evolkit.engine import aevolve
from evolkit.testing import default_reply
from fakeserver import FakeServer

MODEL = "openai/gpt-4o-mini"


def _reply(refuse: float) -> object:
    def reply(messages: Sequence[ChatMessage]) -> str:
        prompt = "\n".join(m["content"] for m in messages)
        draw = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if "<rewrite>" in prompt.lower() and draw < refuse:
            return "I'm sorry, but I can't help with rewriting this."
        return default_reply(messages)

    return reply


async def main(seeds: int, rounds: int, shares: list[float], refuse: float) -> None:
    import litellm

    texts = [f"Explain topic number {i} in {3 + i % 5} steps." for i in range(seeds)]
    async with FakeServer(handler=_reply(refuse)) as server:  # type: ignore[arg-type]
        params = {"api_base": server.url, "api_key": "x"}
        print("share  pilot  calls fc/actual (err)   tokens fc/actual (err)   margin calls/tokens")
        for share in shares:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "data.jsonl"
                fc = await aforecast(
                    texts,
                    output=out,
                    model=MODEL,
                    model_params=params,
                    pilot_share=share,
                    rounds=rounds,
                    cache=None,
                )
                run = await aevolve(
                    texts, output=out, model=MODEL, model_params=params, rounds=rounds, cache=None
                )
                calls = sum(run.stats.calls_per_stage.values())
                tokens = run.stats.usage.total_tokens
                fc_tokens = fc.prompt_tokens + fc.completion_tokens
                print(
                    f"{share:5.2f}  {fc.pilot_seeds:5d}  {fc.calls:6.0f}/{calls:<6d} "
                    f"({fc.calls / calls - 1:+.1%})  {fc_tokens:8.0f}/{tokens:<8d} "
                    f"({fc_tokens / tokens - 1:+.1%})   "
                    f"±{fc.margin_calls:.1%}/±{fc.margin_tokens:.1%}"
                )
    await litellm.close_litellm_async_clients()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--shares", default="0.05,0.1,0.2")
    parser.add_argument("--refuse", type=float, default=0.3, help="share of rewrites refused")
    a = parser.parse_args()
    asyncio.run(main(a.seeds, a.rounds, [float(s) for s in a.shares.split(",")], a.refuse))
