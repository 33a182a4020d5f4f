"""The model judge asked once against asked both ways round, on the labelled cases.

    python benchmarks/judge_swap.py                 # the embedded model
    python benchmarks/judge_swap.py --model gpt-4o-mini --ids 063,144
    python benchmarks/judge_swap.py --structured on  # verdicts constrained to the JSON shape
    python benchmarks/judge_swap.py --structured reasoned  # a short reason, then the verdict

For every case of ``eliminator_cases.jsonl`` that the rules without a model keep (the cases
that reach ``information_gain`` in a run), asks the judge about (parent, rewrite) and about
(rewrite, parent), and prints what a single question and the double check
(``InformationGainFilter(double_check=True)``: drop only when both answers are Equal) drop,
against the labels: recall on the must-drop cases labelled ``information_gain``, and the good
rewrites wrongly dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from attrs import define
from eliminator import CASES, chain, instructions, load

from evolkit._protocols import Backend, ClosableBackend
from evolkit._types import Completion
from evolkit.filters import InformationGainFilter
from evolkit.plugins import default_plugins
from evolkit.refilter import NoModel, calls_model


async def reaching_the_judge(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    plugins = default_plugins()
    registry = plugins.filters()
    rules = [registry.get(n) for n in registry.defaults() if not calls_model(registry.get(n))]
    mutators = {n: plugins.mutators().get(n) for n in plugins.mutators()}
    kept = []
    for case in cases:
        drop, _ = await chain(rules, case, NoModel(), mutators)
        if drop is None:
            kept.append(case)
    return kept


@define
class Plain:
    """A backend's ``complete`` alone, so the judge asks in plain text (``--structured off``)."""

    inner: Backend

    @property
    def model(self) -> str:
        return self.inner.model

    async def complete(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        return await self.inner.complete(messages, **params)


async def both_ways(
    case: dict[str, Any], backend: Backend, limit: asyncio.Semaphore, reasoned: bool
) -> tuple:
    """The judgement of (parent, rewrite) and of (rewrite, parent), as the filter asks it."""
    parent, candidate = instructions(case)
    judge = InformationGainFilter(double_check=False, temperature=0.0, reason_first=reasoned)
    async with limit:
        first, _ = await judge._ask_model(candidate, parent, backend)
        swapped, _ = await judge._ask_model(parent, candidate, backend)
    return first, swapped


def summary(name: str, cases: list[dict[str, Any]], dropped: list[bool]) -> str:
    must = [c for c in cases if c["label"] == "drop"]
    caught = sum(d for c, d in zip(cases, dropped, strict=True) if c["label"] == "drop")
    wrong = [c["id"] for c, d in zip(cases, dropped, strict=True) if d and c["label"] == "keep"]
    keep = sum(c["label"] == "keep" for c in cases)
    return (
        f"{name:<14} drops {sum(dropped):>3}: must-drop caught {caught}/{len(must)}, "
        f"good rewrites dropped {len(wrong)}/{keep} ({' '.join(wrong) or '-'})"
    )


async def main_async(model: str, ids: set[str] | None, concurrency: int, structured: str) -> None:
    cases = load(CASES)
    if ids:
        cases = [c for c in cases if c["id"] in ids]
    reaching = await reaching_the_judge(cases)
    plugins = default_plugins()
    if model == "default":
        from evolkit.backends.default import resolve_model

        model, _ = resolve_model(None)
    backend = plugins.backends().create(model, {})
    asked = backend if structured != "off" else Plain(backend)
    started = time.perf_counter()
    limit = asyncio.Semaphore(concurrency)
    try:
        reasoned = structured == "reasoned"
        answers = await asyncio.gather(*(both_ways(c, asked, limit, reasoned) for c in reaching))
    finally:
        if isinstance(backend, ClosableBackend):
            await backend.aclose()
    reach = f"{len(reaching)} of {len(cases)} cases reach the judge"
    print(f"model: {model}, structured {structured}; {reach}")
    for case, (first, swapped) in zip(reaching, answers, strict=True):
        where = f"{case['id']} {case['label']:<4} {case['set']:<8}"
        print(f"  {where} first {first:<9} swapped {swapped}")
    once = [first == "equal" for first, _ in answers]
    twice = [first == "equal" and swapped == "equal" for first, swapped in answers]
    print(summary("asked once", reaching, once))
    print(summary("double check", reaching, twice))
    print(f"{2 * len(reaching)} calls, {time.perf_counter() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default' for the embedded model")
    parser.add_argument("--ids", default=None, help="comma-separated case ids (default: all)")
    parser.add_argument("--concurrency", type=int, default=4, help="cases in flight (4)")
    parser.add_argument("--structured", choices=("on", "reasoned", "off"), default="off")
    args = parser.parse_args(argv)
    ids = set(args.ids.split(",")) if args.ids else None
    asyncio.run(main_async(args.model, ids, args.concurrency, args.structured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
