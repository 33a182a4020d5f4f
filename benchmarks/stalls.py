"""Wall time of a run where a share of calls stall past the per-call timeout.

A fake backend answers every call after ``--latency`` seconds, except that a ``--stall-rate``
share of first attempts (drawn from a hash of the request, so the same calls stall in every
mode) hang far past ``--timeout``; the engine times them out and the retry answers (a second
try of the same request is never a first attempt, so it answers too). Four runs of the same
seeds, side by side:

* ``clean``: no stalls;
* ``stalls``: with stalls, as the engine runs by default (order kept at commit time with a
  reorder buffer; a late call sent a second time on a spare slot, ``engine/hedge.py``);
* ``no_hedge``: the same without the second tries (``hedge=False``);
* ``head-of-line``: without second tries and with the reorder buffer cut to the window, so
  nothing new starts while the item at the head of the window waits (how the engine ran
  before either).

The least a scheduler that waits out every stall could pay for them is their slot time spread
over the concurrency: ``stalls x timeout / concurrency``. The target is
``stalls <= 1.5 x clean + that``; the script prints the figures and whether it holds, and how
many second tries were sent.

    python benchmarks/stalls.py --seeds 400 --concurrency 16 --timeout 0.5 --stall-rate 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import evolkit
from evolkit._types import ChatMessage, Completion
from evolkit.engine import executor as executor_mod
from evolkit.engine.ordered import ordered_map
from evolkit.testing import FakeBackend


class StallingBackend(FakeBackend):
    """``default_reply`` after ``latency``; a share of first attempts hang for ``hang`` s."""

    def __init__(self, latency: float, stall_rate: float, hang: float) -> None:
        super().__init__(latency=latency, record=False)
        self.stall_rate = stall_rate
        self.hang = hang
        self.stalls = 0
        self._seen: set[str] = set()

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        key = hashlib.sha256(json.dumps(list(messages)).encode()).hexdigest()
        first = key not in self._seen
        self._seen.add(key)
        if first and int(key[:8], 16) / 0xFFFFFFFF < self.stall_rate:
            self.stalls += 1
            await asyncio.sleep(self.hang)
        return await super().complete(messages, **params)


def _run(
    args: argparse.Namespace, stall_rate: float, head_of_line: bool = False, hedge: bool = True
) -> tuple[float, int, int]:
    seeds = [
        f"Describe, in detail, task number {i} of running a small farm." for i in range(args.seeds)
    ]
    backend = StallingBackend(args.latency, stall_rate, hang=args.timeout * 20)
    original = executor_mod.ordered_map
    if head_of_line:
        window = args.concurrency * 4
        executor_mod.ordered_map = functools.partial(ordered_map, buffer=window)  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        result = evolkit.evolve(
            seeds,
            rounds=args.rounds,
            backend=backend,
            concurrency=args.concurrency,
            timeout=args.timeout,
            backoff=0.0,
            respond_seeds=False,
            max_failure_rate=1.0,
            hedge=hedge,
        )
        return time.perf_counter() - start, backend.stalls, result.stats.hedged
    finally:
        executor_mod.ordered_map = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--stall-rate", type=float, default=0.2)
    args = parser.parse_args()

    clean, _, _ = _run(args, 0.0)
    stalled, stalls, hedged = _run(args, args.stall_rate)
    unhedged, _, _ = _run(args, args.stall_rate, hedge=False)
    blocked, _, _ = _run(args, args.stall_rate, head_of_line=True, hedge=False)
    stall_cost = stalls * args.timeout / args.concurrency
    bound = 1.5 * clean + stall_cost
    figures = {
        "clean_s": round(clean, 2),
        "stalls_s": round(stalled, 2),
        "no_hedge_s": round(unhedged, 2),
        "head_of_line_s": round(blocked, 2),
        "stalled_calls": stalls,
        "second_tries": hedged,
        "stall_cost_s": round(stall_cost, 2),
        "bound_s": round(bound, 2),
        "within_bound": stalled <= bound,
        "no_hedge_within_bound": unhedged <= bound,
        "stalls_over_clean": round(stalled / clean, 2),
        "head_of_line_over_clean": round(blocked / clean, 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
