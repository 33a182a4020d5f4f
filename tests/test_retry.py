"""The one retry loop: backoff with jitter and a cap, shared by the engine and evaluation."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from evolkit import ChatMessage, Completion
from evolkit.engine import retry
from evolkit.engine.retry import RetryPolicy, retrying
from evolkit.errors import ModelError
from evolkit.evaluate._generate import BackendGenerator, SamplingConfig
from evolkit.evaluate._styles import Prompt
from evolkit.testing import FakeBackend


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", sleep)
    return waits


def test_delays_grow_are_capped_and_jittered() -> None:
    policy = RetryPolicy(retries=10, backoff=1.0, backoff_max=5.0)
    rng = random.Random(3)
    delays = [policy.delay(n, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        base = min(5.0, 2.0 ** (n - 1))
        assert 0.5 * base <= delay < 1.5 * base
    assert len(set(delays)) == len(delays)  # jittered, so two retries never wait alike


async def test_only_retryable_errors_are_tried_again(slept: list[float]) -> None:
    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ModelError("busy", kind="rate_limit", retryable=True)
        return "ok"

    assert await retrying(flaky, RetryPolicy(retries=4)) == "ok"
    assert len(tries) == 3 and len(slept) == 2

    async def broken() -> str:
        raise ModelError("bad", kind="bad_request")

    with pytest.raises(ModelError, match="bad"):
        await retrying(broken, RetryPolicy(retries=4))
    assert len(slept) == 2


def test_evaluation_retries_through_the_same_loop(slept: list[float]) -> None:
    calls: list[int] = []

    class Busy(FakeBackend):
        async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
            calls.append(1)
            if len(calls) < 3:
                raise ModelError("busy", kind="rate_limit", retryable=True)
            return await super().complete(messages, **params)

    generator = BackendGenerator(Busy(replies=["The answer is 4."]), attempts=3)
    [generation] = generator.generate([Prompt(text="2+2?")], SamplingConfig(max_new_tokens=8))
    assert generation.outputs == ("The answer is 4.",)
    assert len(slept) == 2
    assert 0.5 <= slept[0] < 1.5 and 1.0 <= slept[1] < 3.0  # 1 s, then 2 s, jittered
