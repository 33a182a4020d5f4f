"""A second try for a call that runs far longer than calls usually take, sent on a spare slot.

With a share of calls stalling, a round's last seconds go to its last items' stalled calls
while the other slots sit idle: nothing is left to overlap them with
(``benchmarks/stalls.py``). As in "The Tail at Scale" (Dean and Barroso, CACM 2013), a call
that has run for ``factor`` times the 90th percentile of the run's answered calls is sent a
second time, and the first answer wins; the other try is cancelled.

The second try is made only on a slot that is free while no call waits for one, so a busy
run sends no extra call, and each call is doubled at most once. It is a paid call all the
same: the runner counts it (``calls.hedged``), and ``hedge=False`` (``--no-hedge``) turns it
off; a run with a spending cap or in batch mode never hedges.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Hedger"]

T = TypeVar("T")


class Hedger:
    """Decides when a call is late and races a second try against it."""

    def __init__(
        self,
        *,
        factor: float = 3.0,
        floor: float = 0.05,
        window: int = 256,
        min_samples: int = 20,
    ) -> None:
        self.factor = factor
        self.floor = floor
        self.min_samples = min_samples
        self._latencies: deque[float] = deque(maxlen=window)
        self._threshold: float | None = None

    def threshold(self) -> float | None:
        """Seconds after which a call is late; ``None`` until enough calls were answered."""
        return self._threshold

    def answered(self, seconds: float) -> None:
        """Count the duration of one answered try."""
        self._latencies.append(seconds)
        count = len(self._latencies)
        if count >= self.min_samples and (self._threshold is None or count % 32 == 0):
            p90 = sorted(self._latencies)[int(0.9 * (count - 1))]
            self._threshold = max(self.floor, self.factor * p90)

    async def first_answer(
        self,
        send: Callable[[], Awaitable[T]],
        second: Callable[[], Awaitable[T]],
        spare: Callable[[], bool],
    ) -> T:
        """The answer of ``send()``, or of ``second()`` started once the first is late and
        ``spare()`` says a slot is free; the first successful answer wins."""
        race = _Race(self, send, second, spare)
        try:
            return await race.outcome
        finally:
            await race.close()


class _Race(Generic[T]):
    """One call's tries: a timer that starts the second, and the first answer."""

    def __init__(
        self,
        hedger: Hedger,
        send: Callable[[], Awaitable[T]],
        second: Callable[[], Awaitable[T]],
        spare: Callable[[], bool],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.hedger, self.second, self.spare = hedger, second, spare
        self.outcome: asyncio.Future[T] = self.loop.create_future()
        self.tries: dict[asyncio.Future[T], float] = {}
        self.timer: asyncio.TimerHandle | None = None
        self._start(send)
        self._wait(hedger.threshold())

    def _start(self, make: Callable[[], Awaitable[T]]) -> None:
        task = asyncio.ensure_future(make())
        self.tries[task] = self.loop.time()
        task.add_done_callback(self._settle)

    def _wait(self, late: float | None) -> None:
        delay = 1.0 if late is None else late  # no threshold yet: look again in a second
        self.timer = self.loop.call_later(delay, self._late)

    def _late(self) -> None:
        if self.outcome.done() or not self.tries:
            return
        late = self.hedger.threshold()
        began = min(self.tries.values())
        if late is not None and self.loop.time() - began >= late and self.spare():
            self.timer = None
            self._start(self.second)
        else:
            self._wait(None if late is None else max(self.hedger.floor, late / 4))

    def _settle(self, task: asyncio.Future[T]) -> None:
        began = self.tries.pop(task)
        if self.outcome.done() or task.cancelled():
            return
        error = task.exception()
        if error is None:
            self.hedger.answered(self.loop.time() - began)
            self.outcome.set_result(task.result())
        elif not self.tries:
            self.outcome.set_exception(error)  # no other try is running: this one's error

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        pending = list(self.tries)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
