from __future__ import annotations

import pytest

from evolkit.engine import calls
from evolkit.engine.calls import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(calls.time, "monotonic", c.monotonic)
    monkeypatch.setattr(calls.asyncio, "sleep", c.sleep)
    return c


async def test_requests_per_minute(clock: Clock) -> None:
    limiter = RateLimiter(rpm=3, tpm=None)
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()  # the fourth waits until the first leaves the 60 s window
    assert clock.slept == [pytest.approx(60.0)]


async def test_tokens_per_minute(clock: Clock) -> None:
    limiter = RateLimiter(rpm=None, tpm=1000)
    await limiter.acquire()
    limiter.record_tokens(600)
    clock.now += 10
    await limiter.acquire()
    limiter.record_tokens(500)
    assert clock.slept == []
    await limiter.acquire()  # 1100 tokens in the window: wait for the first record to expire
    assert clock.slept == [pytest.approx(50.0)]


async def test_no_limits_never_waits(clock: Clock) -> None:
    limiter = RateLimiter(None, None)
    for _ in range(1000):
        await limiter.acquire()
    assert clock.slept == []
