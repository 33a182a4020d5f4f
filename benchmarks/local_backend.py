"""The local backend: its speed against the bare llama.cpp server, and how usable its rewrites are.

``speed`` (the default): generated tokens/s of the local backend (through litellm) against the
bare llama.cpp server.

Both paths talk to the same llama.cpp server process that ``LocalBackend`` starts:

* ``direct``: a raw HTTP client (httpx) posting to ``/v1/chat/completions`` of that server;
* ``evolkit``: ``LocalBackend.complete``, i.e. evolkit -> litellm -> the same endpoint.

Each level keeps ``concurrency`` requests in flight until ``requests`` are done; every request
has its own prompt (no prompt-cache reuse between the two paths), a fixed seed, and
``max_tokens``. The paths alternate, ``--reps`` times each, and the best run of each counts.
Figures: completion tokens / wall time, and evolkit's share of the direct figure.

    python benchmarks/local_backend.py speed --model local/qwen2.5-coder-1.5b --levels 1,4

``kept``: one round of ``evolkit.evolve`` over a seed file with each operator forced in turn
(then with the default mix), through the local backend; prints, per operator, how many
evolutions the eliminator kept and why the others were dropped.

    python benchmarks/local_backend.py kept --model local/qwen2.5-coder-1.5b \
        --seeds examples/seeds.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from evolkit.backends.local import LocalBackend

TOPICS = [
    "a lighthouse keeper",
    "a bread recipe",
    "tides",
    "a chess opening",
    "a bicycle repair",
    "composting",
    "a train timetable",
    "volcanoes",
    "a budget spreadsheet",
    "bird migration",
    "a pottery class",
    "solar panels",
]
_counter = itertools.count()


def _messages() -> list[dict[str, str]]:
    n = next(_counter)
    topic = TOPICS[n % len(TOPICS)]
    return [
        {"role": "system", "content": "You are a helpful writing assistant."},
        {
            "role": "user",
            "content": f"Request {n}: write a detailed paragraph of at least 200 words "
            f"about {topic}.",
        },
    ]


async def _level(
    call: Callable[[list[dict[str, str]]], Awaitable[int]], concurrency: int, requests: int
) -> tuple[int, float]:
    queue = list(range(requests))
    tokens = 0

    async def worker() -> None:
        nonlocal tokens
        while queue:
            queue.pop()
            got = await call(_messages())  # not `tokens += await ...`: that loses updates
            tokens += got

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return tokens, time.perf_counter() - start


async def speed(args: argparse.Namespace) -> int:
    levels = [int(x) for x in args.levels.split(",")]
    params: dict[str, object] = {"parallel": args.parallel, "temperature": 0.0, "seed": 1}
    if args.threads:
        params["threads"] = args.threads
    print(
        f"model {args.model}, server slots {args.parallel}, max_tokens {args.max_tokens}, "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    t0 = time.perf_counter()
    async with LocalBackend(args.model, params) as backend:
        print(f"server ready in {time.perf_counter() - t0:.1f} s at {backend.address}")
        assert backend.address is not None
        url = backend.address + "/v1/chat/completions"
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:

            async def direct(messages: list[dict[str, str]]) -> int:
                body = {
                    "model": backend.alias,
                    "messages": messages,
                    "max_tokens": args.max_tokens,
                    "temperature": 0.0,
                    "seed": 1,
                }
                r = await client.post(url, json=body)
                r.raise_for_status()
                return int(r.json()["usage"]["completion_tokens"])

            async def through_evolkit(messages: list[dict[str, str]]) -> int:
                c = await backend.complete(messages, max_tokens=args.max_tokens)  # type: ignore[arg-type]
                return c.usage.completion_tokens

            await direct(_messages())  # warm up both paths (litellm's import, connections)
            await through_evolkit(_messages())
            for level in levels:
                n = args.requests or 2 * level
                best: dict[str, float] = {"direct": 0.0, "evolkit": 0.0}
                for _ in range(args.reps):
                    for name, fn in (("direct", direct), ("evolkit", through_evolkit)):
                        tokens, secs = await _level(fn, level, n)
                        rate = tokens / secs
                        best[name] = max(best[name], rate)
                        print(
                            f"  concurrency {level} {name:8s} {tokens:5d} tokens "
                            f"{secs:6.1f} s {rate:6.1f} tok/s",
                            flush=True,
                        )
                ratio = best["evolkit"] / best["direct"] if best["direct"] else float("nan")
                print(
                    f"concurrency {level}: direct {best['direct']:.1f} tok/s, evolkit "
                    f"{best['evolkit']:.1f} tok/s, ratio {ratio:.2f}",
                    flush=True,
                )
    return 0


async def kept(args: argparse.Namespace) -> int:
    from collections import Counter

    from evolkit import aevolve
    from evolkit._plugins import default_plugins

    operators = (
        args.operators.split(",")
        if args.operators
        else [*default_plugins().mutators().defaults(), "all"]
    )
    params: dict[str, object] = {"parallel": args.parallel}
    if args.threads:
        params["threads"] = args.threads
    print(
        f"model {args.model}, seeds {args.seeds}, respond {not args.no_respond}, "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    total_kept = total_tried = 0
    async with LocalBackend(args.model, params) as backend:
        for op in operators:
            t0 = time.perf_counter()
            result = await aevolve(
                args.seeds,
                rounds=1,
                backend=backend,
                operators=None if op == "all" else [op],
                concurrency=args.parallel,
                timeout=args.timeout,
                respond=not args.no_respond,
                respond_seeds=False,
                seed=args.seed,
                cache=None,
            )
            st = result.stats
            tried = sum(st.attempted_per_operator.values())
            kept_n = st.kept
            if op != "all":
                total_kept += kept_n
                total_tried += tried
            reasons = Counter(f"{d.stage}:{d.filter or '-'}" for d in result.iter_drops())
            print(
                f"{op:26s} kept {kept_n:2d}/{tried:2d}  {time.perf_counter() - t0:6.0f} s  "
                f"drops {dict(reasons)}",
                flush=True,
            )
            if args.show:
                for row in result:
                    if row.parent_id:
                        print(f"    KEPT [{row.operator}] {row.text[:300]!r}")
                for d in result.iter_drops():
                    print(
                        f"    DROP [{d.operator}] {d.stage}/{d.filter}: {d.reason[:120]!r} "
                        f"{(d.text or '')[:200]!r}"
                    )
    if total_tried:
        print(
            f"per-operator runs: kept {total_kept}/{total_tried} "
            f"({100 * total_kept / total_tried:.0f}%)"
        )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode")
    sp = sub.add_parser("speed", help="tokens/s: evolkit's backend against the bare server")
    kp = sub.add_parser("kept", help="share of evolutions kept, per operator")
    for p in (ap, sp, kp):
        p.add_argument("--model", default="local/default")
        p.add_argument("--parallel", type=int, default=4, help="server slots")
        p.add_argument("--threads", type=int, default=0, help="server CPU threads (0: auto)")
    for p in (ap, sp):
        p.add_argument("--levels", default="1,4", help="concurrency levels, comma-separated")
        p.add_argument("--requests", type=int, default=0, help="per level (default 2 x level)")
        p.add_argument("--max-tokens", type=int, default=128)
        p.add_argument("--reps", type=int, default=2)
    kp.add_argument("--seeds", default="examples/seeds.jsonl")
    kp.add_argument("--operators", default="", help="comma-separated (default: each, then all)")
    kp.add_argument("--no-respond", action="store_true", help="skip responses (and their filters)")
    kp.add_argument("--timeout", type=float, default=1800.0, help="seconds per call")
    kp.add_argument("--seed", type=int, default=0)
    kp.add_argument("--show", action="store_true", help="print kept and dropped texts")
    args = ap.parse_args()
    return asyncio.run(kept(args) if args.mode == "kept" else speed(args))


if __name__ == "__main__":
    sys.exit(main())
