"""The rate limiter: aiolimiter buckets holding one window's allowance of requests and tokens."""

from __future__ import annotations

import asyncio
import time

import pytest

from evolkit.engine.calls import RateLimiter, estimate_tokens

PERIOD = 2.0  # seconds standing in for the minute, so the tests wait only a little


async def _timed(coro: object) -> float:
    start = time.monotonic()
    await coro  # type: ignore[misc]
    return time.monotonic() - start


async def test_requests_per_minute() -> None:
    limiter = RateLimiter(rpm=3, tpm=None, period=PERIOD)
    for _ in range(3):
        assert await _timed(limiter.acquire()) < PERIOD / 4  # a window's allowance at once
    # the fourth waits until one request's share of the window has leaked out
    assert await _timed(limiter.acquire()) >= PERIOD / 3 * 0.8


async def test_tokens_per_minute() -> None:
    limiter = RateLimiter(rpm=None, tpm=1000, period=PERIOD)
    await limiter.acquire(400)
    await limiter.charge(500)
    assert await _timed(limiter.acquire(50)) < PERIOD / 4
    # 950 tokens in the bucket: 300 more must wait until 250 have leaked out
    assert await _timed(limiter.acquire(300)) >= PERIOD * 0.25 * 0.8


async def test_no_limits_never_waits() -> None:
    limiter = RateLimiter(None, None)
    elapsed = await _timed(asyncio.gather(*(limiter.acquire(10**6) for _ in range(1000))))
    assert elapsed < 1.0


def test_prompt_tokens_are_estimated_from_the_text() -> None:
    assert estimate_tokens([{"role": "user", "content": "x" * 400}]) == 100


@pytest.mark.parametrize("tokens", [0, -3])
async def test_nothing_to_charge_never_waits(tokens: int) -> None:
    limiter = RateLimiter(rpm=None, tpm=1, period=1000.0)
    await limiter.charge(1)
    assert await _timed(limiter.charge(tokens)) < 0.05
