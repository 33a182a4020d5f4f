"""Run an async function over a stream with bounded concurrency, yielding results in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


async def ordered_map(
    items: Iterable[T],
    fn: Callable[[int, T], Awaitable[R]],
    window: int,
    buffer: int | None = None,
) -> AsyncIterator[R]:
    """Yield ``fn(i, item)`` for each item, in input order, with at most ``window`` running.

    Order is kept at commit time, not by holding back work: while the item at the head waits
    (a stalled call), later items keep starting as others finish, and their results wait in a
    reorder buffer until the head is done. At most ``window`` items run and at most ``buffer``
    (default ``8 * window``) are started but not yet yielded, so memory stays bounded. Pending
    work is cancelled if the consumer stops.
    """
    limit = max(window, buffer if buffer is not None else 8 * window)
    source = enumerate(items)
    running: dict[asyncio.Task[R], int] = {}
    finished: dict[int, asyncio.Task[R]] = {}
    next_out = 0
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < window and len(running) + len(finished) < limit:
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                running[asyncio.ensure_future(fn(index, item))] = index
            while next_out in finished:
                yield finished.pop(next_out).result()
                next_out += 1
            if not running:
                if exhausted:
                    return
                continue
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                finished[running.pop(task)] = task
                if not task.cancelled() and task.exception() is not None:
                    task.result()  # a failed item ends the stream now, not at the head
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
