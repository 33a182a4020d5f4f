"""Run an async function over a stream with bounded concurrency, yielding results in order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


async def ordered_map(
    items: Iterable[T], fn: Callable[[int, T], Awaitable[R]], window: int
) -> AsyncIterator[R]:
    """Yield ``fn(i, item)`` for each item, in input order, with at most ``window`` running.

    Items are pulled from ``items`` only as the window frees, so memory is bounded by the
    window, not by the length of the stream. Pending work is cancelled if the consumer stops.
    """
    pending: deque[asyncio.Task[R]] = deque()
    try:
        for index, item in enumerate(items):
            pending.append(asyncio.ensure_future(fn(index, item)))
            while pending and (len(pending) >= window or pending[0].done()):
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
