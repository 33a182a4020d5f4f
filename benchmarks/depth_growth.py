"""How many words a model's depth rewrites add, against the 10 to 20 their prompts ask for.

Each of the four depth operators whose prompt asks for 10 to 20 more words rewrites every seed
once (one call each, no answer, no judge); the script prints, per operator, the words each
parsed rewrite added and how many fall inside the band the ``growth`` filter keeps.
``--rule TEXT`` measures another wording of the prompts' length rule side by side with the
shipped one (same seeds, same drawn variants):

    python benchmarks/depth_growth.py --model default
    python benchmarks/depth_growth.py --rule "- Add one new sentence of 10 to 20 words."
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import attrs

from evolkit import Instruction
from evolkit.backends.local import LocalBackend
from evolkit.errors import EvolkitError
from evolkit.filters.growth import TARGET_BAND
from evolkit.filters.stopwords import words
from evolkit.io import read_instructions
from evolkit.operators import (
    ADD_CONSTRAINTS,
    CONCRETIZE,
    DEEPEN,
    INCREASE_REASONING,
    TemplateMutator,
)

SHIPPED_RULE = "- Add only 10 to 20 words."
OPERATORS = (ADD_CONSTRAINTS, DEEPEN, CONCRETIZE, INCREASE_REASONING)
PARAMS = {"temperature": 0.7, "max_tokens": 512}


async def added_words(
    backend: LocalBackend, rule: str, seeds: list[Instruction], slots: asyncio.Semaphore
) -> dict[str, list[int | None]]:
    """Per operator, the words each seed's rewrite added (``None``: no usable rewrite)."""

    async def one(op: TemplateMutator, i: int, seed: Instruction) -> int | None:
        mutator = attrs.evolve(op, template=op.template.replace(SHIPPED_RULE, rule))
        messages = mutator.build_messages(seed, random.Random(i))
        async with slots:
            reply = await backend.complete(messages, **PARAMS)
        child = mutator.parse(reply.text, seed)
        if not isinstance(child, Instruction):
            return None
        return len(words(child.text)) - len(words(seed.text))

    out = {}
    for op in OPERATORS:
        out[op.name] = list(await asyncio.gather(*(one(op, i, s) for i, s in enumerate(seeds))))
    return out


def report(rule: str, added: dict[str, list[int | None]]) -> None:
    least, most = TARGET_BAND
    parsed = [a for row in added.values() for a in row if a is not None]
    inside = sum(least <= a <= most for a in parsed)
    total = sum(len(row) for row in added.values())
    print(f"rule {rule!r}: {len(parsed)}/{total} parsed, {inside} inside {least}-{most}")
    for name, row in added.items():
        shown = ", ".join("-" if a is None else str(a) for a in row)
        below = sum(a is not None and a < least for a in row)
        above = sum(a is not None and a > most for a in row)
        print(f"  {name:26} below {below}, above {above}: {shown}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a local model (default: default)")
    parser.add_argument("--seeds", type=Path, default=Path("examples/seeds.jsonl"))
    parser.add_argument("--rule", action="append", default=[], help="another length rule")
    args = parser.parse_args()
    seeds = list(read_instructions(args.seeds))
    async with LocalBackend(args.model, dict(PARAMS)) as backend:
        slots = asyncio.Semaphore(backend.parallel)
        for rule in [SHIPPED_RULE, *args.rule]:
            start = time.perf_counter()
            added = await added_words(backend, rule, seeds, slots)
            report(rule, added)
            print(f"  {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except EvolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
