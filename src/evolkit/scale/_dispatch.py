"""One round of a :class:`~evolkit.scale.executor.RayExecutor`: chunks of the pool sent to the
workers, re-sent when a worker dies, and their outcomes handed back in pool order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from evolkit._types import Instruction
from evolkit.engine.steps import Outcome, RoundContext
from evolkit.scale._worker import ChunkResult, ItemResult

if TYPE_CHECKING:
    from evolkit.scale.executor import RayExecutor

__all__: list[str] = []


class _Actor:
    def __init__(self, handle: Any, index: int) -> None:
        self.handle = handle
        self.index = index
        self.outstanding = 0
        self.usable = True


class _Chunk:
    def __init__(self, items: list[tuple[int, Instruction]]) -> None:
        self.items = items
        self.attempts = 0
        self.actor: _Actor | None = None


class _Dispatch:
    """One round on the workers: chunks queued, running and answered, outcomes in pool order."""

    def __init__(
        self,
        executor: RayExecutor,
        ray: Any,
        ctx: RoundContext,
        round: int,
        pool: Iterator[Instruction],
    ) -> None:
        self.executor = executor
        self.ray = ray
        self.ctx = ctx
        self.round = round
        self.seen = [ray.put(sorted(ctx.dedupe.seen_before))]
        self.source = enumerate(pool)
        self.exhausted = False
        self.waiting: list[_Chunk] = []  # chunks to (re)send
        self.running: dict[asyncio.Future[Any], _Chunk] = {}
        self.pings: dict[asyncio.Future[Any], _Actor] = {}
        self.ready: dict[int, ItemResult] = {}
        self.next_index = 0
        self.sent_up_to = 0
        ex = executor
        self.lookahead = ex.chunk * ex.depth * len(ex._actors) * 2

    def _next_chunk(self) -> _Chunk | None:
        """A chunk to send: one waiting to be re-sent, else the next items of the pool."""
        if self.waiting:
            return self.waiting.pop(0)
        if self.exhausted or self.sent_up_to - self.next_index >= self.lookahead:
            return None
        items = list(islice(self.source, self.executor.chunk))
        if not items:
            self.exhausted = True
            return None
        self.sent_up_to = items[-1][0] + 1
        return _Chunk(items)

    def fill(self) -> None:
        """Send chunks until every usable worker has ``depth`` of them."""
        ex = self.executor
        while True:
            actors = [a for a in ex._actors if a.usable and a.outstanding < ex.depth]
            if not actors:
                return
            chunk = self._next_chunk()
            if chunk is None:
                return
            actor = min(actors, key=lambda a: (a is chunk.actor, a.outstanding))
            chunk.actor = actor
            chunk.attempts += 1
            actor.outstanding += 1
            ref = actor.handle.run.remote(
                ex._token, ex._spec_box, self.round, self.seen, chunk.items
            )
            self.running[asyncio.wrap_future(ref.future())] = chunk

    def take(self) -> Outcome:
        """The next outcome in pool order (its calls' token use counted)."""
        item = self.ready.pop(self.next_index)
        for _key, completion, call_round, operator in item.calls:
            self.ctx.stats.add_usage(completion, call_round, operator)
        self.next_index += 1
        return item.outcome

    async def settle(self, future: asyncio.Future[Any]) -> None:
        """A finished ping or chunk: absorb the chunk's results, or queue it again."""
        ex, ray = self.executor, self.ray
        if future in self.pings:
            ex._pinged(ray, self.pings.pop(future), future)
            return
        chunk = self.running.pop(future)
        assert chunk.actor is not None
        chunk.actor.outstanding -= 1
        try:
            result: ChunkResult = future.result()
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
        except (ray.exceptions.RayError, ConnectionError) as exc:
            ex._lost(ray, chunk, exc, self.pings)
            self.waiting.insert(0, chunk)
            return
        await ex._absorb(self.ctx, result)
        ex.chunks_done[result.worker] = ex.chunks_done.get(result.worker, 0) + 1
        for item in result.items:
            self.ready[item.outcome.index] = item
