"""Resume an interrupted run, then extend a finished one by more rounds.

A run with an output path journals every finished model call in ``OUT.evolkit/``. Running the
same call again (same seeds, model and settings) replays the journal instead of calling the
model again, and carries on where the run stopped; asking for more rounds extends it.

    python examples/resume.py                       # offline, with the fake model
    python examples/resume.py --model ollama/llama3.1 --api-base http://localhost:11434

From the command line it is the same: press Ctrl-C during ``evolkit evolve ... -o out.jsonl``
and run the same command again.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import evolkit
from evolkit import Backend, ChatMessage, Completion
from evolkit.plugins import default_plugins

HERE = Path(__file__).resolve().parent


class StopsAfter:
    """Wraps a backend; after `calls` calls it holds every further call until the run stops."""

    def __init__(self, backend: Backend, calls: int) -> None:
        self.backend, self.left = backend, calls
        self.model = backend.model  # same model string: the resumed run must match it
        self.reached = asyncio.Event()

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        if self.left <= 0:
            self.reached.set()
            await asyncio.Event().wait()  # never answers: the run is stopped meanwhile
        self.left -= 1
        return await self.backend.complete(messages, **params)


async def interrupted_run(seeds: Path, backend: Backend, calls: int, **settings: Any) -> None:
    """Start a run and stop it after `calls` model calls, the way Ctrl-C stops one."""
    stopper = StopsAfter(backend, calls)
    run = asyncio.ensure_future(evolkit.aevolve(seeds, backend=stopper, **settings))
    waiter = asyncio.ensure_future(stopper.reached.wait())
    await asyncio.wait([run, waiter], return_when=asyncio.FIRST_COMPLETED)
    run.cancel()
    waiter.cancel()
    try:
        await run
    except asyncio.CancelledError:
        print(f"first attempt stopped after {calls} model calls")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake/demo")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    output = args.output or Path(tempfile.mkdtemp(prefix="evolkit-")) / "out.jsonl"
    params = {"api_base": args.api_base} if args.api_base else {}
    seeds = HERE / "seeds.jsonl"
    settings: dict[str, Any] = {"output": output, "seed": 0, "concurrency": 4}

    # 1. A run that dies part-way through round 2.
    backend = default_plugins().backends().create(args.model, params)
    asyncio.run(interrupted_run(seeds, backend, 45, rounds=3, **settings))

    # 2. The same call again: finished calls come from the journal, the rest from the model.
    result = evolkit.evolve(seeds, rounds=3, model=args.model, model_params=params, **settings)
    stats = result.stats
    print(
        f"resumed: {stats.journal_hits} calls replayed from the journal, "
        f"{stats.calls_sent} sent to the model; {stats.rows} rows in {output}"
    )

    # 3. More rounds on a finished run: rounds 1-3 are kept, round 4 is new.
    longer = evolkit.evolve(seeds, rounds=4, model=args.model, model_params=params, **settings)
    print(
        f"extended to {longer.stats.rounds} rounds: {longer.stats.rows} rows "
        f"({longer.stats.rows_per_round.get(4, 0)} new in round 4)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
