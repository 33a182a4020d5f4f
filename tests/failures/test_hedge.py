"""A late call gets a second try on a spare slot, and only then; the first answer wins."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Any

import pytest

import evolkit
from evolkit._types import ChatMessage, Completion
from evolkit.engine.hedge import Hedger
from evolkit.testing import FakeBackend

SEEDS = [f"Describe step {i} of repairing a bicycle puncture." for i in range(30)]


def trained(latency: float = 0.01) -> Hedger:
    hedger = Hedger(min_samples=4)
    for _ in range(4):
        hedger.answered(latency)
    return hedger


async def test_a_late_call_with_a_spare_slot_is_answered_by_its_second_try() -> None:
    first_cancelled = asyncio.Event()

    async def stalls() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            first_cancelled.set()
            raise
        return "first"

    async def answers() -> str:
        await asyncio.sleep(0.01)
        return "second"

    start = time.monotonic()
    assert await trained().first_answer(stalls, 30, answers, spare=lambda: True) == "second"
    assert time.monotonic() - start < 1.0
    assert first_cancelled.is_set()  # the loser is cancelled, not left running


async def test_no_second_try_without_a_spare_slot() -> None:
    seconds: list[int] = []

    async def stalls() -> str:
        await asyncio.sleep(30)
        return "first"

    async def second() -> str:
        seconds.append(1)
        return "second"

    start = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await trained().first_answer(stalls, 0.4, second, spare=lambda: False)
    assert 0.35 < time.monotonic() - start < 2.0  # the deadline, not the 30 s stall
    assert seconds == []


async def test_a_failed_first_try_fails_at_once_and_a_fast_one_is_never_doubled() -> None:
    hedger = trained()
    seconds: list[int] = []

    async def second() -> str:
        seconds.append(1)
        return "second"

    async def fails() -> str:
        raise ValueError("bad request")

    async def fast() -> str:
        return "first"

    with pytest.raises(ValueError, match="bad request"):
        await hedger.first_answer(fails, 30, second, spare=lambda: True)
    assert await hedger.first_answer(fast, 30, second, spare=lambda: True) == "first"
    assert seconds == []


async def test_without_a_second_try_the_call_still_has_its_deadline() -> None:
    async def stalls() -> str:
        await asyncio.sleep(30)
        return "first"

    with pytest.raises(asyncio.TimeoutError):
        await trained().first_answer(stalls, 0.2)


async def test_a_try_that_fails_after_the_call_is_decided_leaves_no_unretrieved_error() -> None:
    # The second try wins, and the first fails a moment later (a dropped connection), before
    # the race is closed: its error no longer matters, and asyncio must not log it as an
    # exception never retrieved (which prints a traceback when a run is stopped).
    loop = asyncio.get_running_loop()
    logged: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: logged.append(context))
    fail_now = asyncio.Event()

    async def fails_late() -> str:
        await fail_now.wait()
        raise ValueError("server disconnected")

    async def answers() -> str:
        fail_now.set()
        return "second"

    assert await trained().first_answer(fails_late, 30, answers, spare=lambda: True) == "second"
    gc.collect()
    await asyncio.sleep(0)
    assert [context.get("message") for context in logged] == []


def test_no_threshold_until_enough_calls_were_answered() -> None:
    hedger = Hedger(min_samples=3, factor=3.0, floor=0.05)
    hedger.answered(0.2)
    hedger.answered(0.2)
    assert hedger.threshold() is None
    hedger.answered(0.2)
    assert hedger.threshold() == pytest.approx(0.6)


class StallsOnce(FakeBackend):
    """Every call answers at once, except the first try of the ``stall_at``-th request."""

    def __init__(self, stall_at: int) -> None:
        super().__init__(record=False)
        self.stall_at = stall_at
        self.calls = 0

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        self.calls += 1
        if self.calls == self.stall_at:
            await asyncio.sleep(60)
        await asyncio.sleep(0.005)
        return await super().complete(messages, **params)


@pytest.mark.parametrize("hedge", [True, False])
def test_a_run_answers_a_stalled_call_from_its_second_try(hedge: bool) -> None:
    backend = StallsOnce(stall_at=len(SEEDS) * 3 - 2)  # near the end, when slots are spare
    start = time.monotonic()
    result = evolkit.evolve(
        SEEDS, rounds=1, backend=backend, concurrency=4, timeout=3.0, backoff=0.0, hedge=hedge
    )
    wall = time.monotonic() - start
    assert result.stats.call_failures == 0
    if hedge:
        assert result.stats.hedged == 1 and result.stats.retries == 0
        assert wall < 2.5  # the stalled try was not waited out
    else:
        assert result.stats.hedged == 0 and result.stats.retries == 1
        assert wall >= 3.0  # the timeout ran out, then the retry answered
    assert result.stats.calls_sent == backend.calls


def test_a_single_slot_run_never_sends_a_second_try() -> None:
    backend = StallsOnce(stall_at=40)
    result = evolkit.evolve(SEEDS, rounds=1, backend=backend, concurrency=1, timeout=0.5)
    assert result.stats.hedged == 0 and result.stats.retries == 1


def test_a_backend_can_say_a_second_try_would_not_help_and_the_user_still_decides() -> None:
    from evolkit._protocols import BackendHints
    from evolkit.backends.local import LocalBackend
    from evolkit.engine.config import EvolveConfig
    from evolkit.engine.plan import fit_to_backend

    class SameMachine(FakeBackend):
        hints = BackendHints(hedge=False)

    assert fit_to_backend(EvolveConfig(), SameMachine()).hedge is False
    assert fit_to_backend(EvolveConfig(hedge=True), SameMachine()).hedge is True
    assert fit_to_backend(EvolveConfig(), FakeBackend()).hedge is True
    assert LocalBackend("local/smollm2-135m").hints.hedge is False  # no server is started

    backend = StallsOnce(stall_at=len(SEEDS) * 3 - 2)
    backend.hints = BackendHints(hedge=False)  # type: ignore[attr-defined]
    result = evolkit.evolve(SEEDS, rounds=1, backend=backend, concurrency=4, timeout=1.0)
    assert result.stats.hedged == 0 and result.stats.retries == 1
