"""A second try for a call that runs far longer than calls usually take, sent on a spare slot.

With a share of calls stalling, a round's last seconds go to its last items' stalled calls
while the other slots sit idle: nothing is left to overlap them with
(``benchmarks/stalls.py``). As in "The Tail at Scale" (Dean and Barroso, CACM 2013), a call
that has run for ``factor`` times the 90th percentile of the run's answered calls is sent a
second time, and the first answer wins; the other try is cancelled.

The second try is made only on a slot that is free while no call waits for one, so a busy
run sends no extra call, and each call is doubled at most once. It is a paid call all the
same: the runner counts it (``calls.hedged``), and ``hedge=False`` (``--no-hedge``) turns it
off. A backend whose second try would share the first's hardware (a local model) says so in
its hints and is not hedged unless asked; a run with a spending cap or in batch mode never is.

The race also keeps the call's timeout (one timer serves both), so a call costs no more
bookkeeping than ``asyncio.wait_for`` did.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Hedger"]

T = TypeVar("T")


class Hedger:
    """Decides when a call is late, and runs each call's tries against its deadline."""

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
        self._answers = 0
        self._threshold: float | None = None

    def threshold(self) -> float | None:
        """Seconds after which a call is late; ``None`` until enough calls were answered."""
        return self._threshold

    def answered(self, seconds: float) -> None:
        """Count the duration of one answered try (the threshold is updated every 32)."""
        self._latencies.append(seconds)
        self._answers += 1
        if self._answers >= self.min_samples and (
            self._threshold is None or self._answers % 32 == 0
        ):
            ordered = sorted(self._latencies)
            p90 = ordered[int(0.9 * (len(ordered) - 1))]
            self._threshold = max(self.floor, self.factor * p90)

    async def first_answer(
        self,
        send: Callable[[], Awaitable[T]],
        timeout: float,
        second: Callable[[], Awaitable[T]] | None = None,
        spare: Callable[[], bool] = lambda: False,
    ) -> T:
        """The answer of ``send()`` within ``timeout`` seconds (else ``asyncio.TimeoutError``);
        with ``second``, the answer of ``second()`` instead if the first is late and
        ``spare()`` says a slot is free when it is started. The first answer wins."""
        race = _Race(self, send, timeout, second, spare)
        try:
            return await race.outcome
        finally:
            await race.close()


class _Race(Generic[T]):
    """One call's tries and one timer: for the second try, then for the deadline."""

    def __init__(
        self,
        hedger: Hedger,
        send: Callable[[], Awaitable[T]],
        timeout: float,
        second: Callable[[], Awaitable[T]] | None,
        spare: Callable[[], bool],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.hedger, self.second, self.spare = hedger, second, spare
        self.began = self.loop.time()
        self.deadline = self.began + timeout
        self.outcome: asyncio.Future[T] = self.loop.create_future()
        self.tries: dict[asyncio.Future[T], float] = {}
        self._start(send)
        late = hedger.threshold()
        first_look = self.began + (1.0 if late is None else late)  # no threshold yet: 1 s
        self.timer = self._at(first_look if second is not None else self.deadline)

    def _at(self, when: float) -> asyncio.TimerHandle:
        return self.loop.call_at(min(when, self.deadline), self._wake)

    def _start(self, make: Callable[[], Awaitable[T]]) -> None:
        task = asyncio.ensure_future(make())
        self.tries[task] = self.loop.time()
        task.add_done_callback(self._settle)

    def _wake(self) -> None:
        if self.outcome.done():
            return
        now = self.loop.time()
        if now >= self.deadline:
            self.outcome.set_exception(asyncio.TimeoutError())
            return
        late = self.hedger.threshold()
        is_late = late is not None and now - self.began >= late
        if self.second is not None and is_late and self.spare():
            self._start(self.second)
            self.second = None  # each call is doubled at most once
            self.timer = self._at(self.deadline)
            return
        look = 1.0 if late is None else max(self.hedger.floor, late / 4)
        self.timer = self._at(now + look)

    def _settle(self, task: asyncio.Future[T]) -> None:
        began = self.tries.pop(task)
        if task.cancelled():
            return
        error = task.exception()  # read even when it is too late to count: never "unretrieved"
        if self.outcome.done():
            return
        if error is None:
            self.hedger.answered(self.loop.time() - began)
            self.outcome.set_result(task.result())
        elif not self.tries:
            self.outcome.set_exception(error)  # no other try is running: this one's error

    async def close(self) -> None:
        self.timer.cancel()
        pending = list(self.tries)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
