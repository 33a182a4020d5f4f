"""The one retry loop of evolkit: exponential backoff with jitter and a cap.

The engine's call runner and the evaluation harness both retry model calls through
:func:`retrying`; only a :class:`~evolkit.errors.ModelError` marked ``retryable`` is tried again.
(tenacity would do this too; the loop is eight lines and keeps the counts the runner reports.)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from attrs import field, frozen

from evolkit.errors import ModelError

__all__ = ["RetryPolicy", "retrying"]

T = TypeVar("T")


@frozen(kw_only=True)
class RetryPolicy:
    """``retries`` more tries after the first; the n-th waits ``backoff * 2**(n-1)`` seconds,
    at most ``backoff_max``, times a jitter factor drawn from [0.5, 1.5)."""

    retries: int = field(default=4, validator=attrs.validators.ge(0))
    backoff: float = field(default=0.5, validator=attrs.validators.ge(0))
    backoff_max: float = field(default=30.0, validator=attrs.validators.ge(0))

    def delay(self, attempt: int, jitter: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return min(self.backoff_max, self.backoff * 2.0 ** (attempt - 1)) * (0.5 + jitter.random())


#: The longest wait a provider's ``Retry-After`` may impose on one retry.
MAX_RETRY_AFTER = 300.0
_JITTER = random.Random()  # jitter only spaces retries; it never changes results


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[ModelError], None] | None = None,
    jitter: random.Random | None = None,
) -> T:
    """``await attempt()``, tried again after a retryable :class:`ModelError` as ``policy``
    allows; the last error is raised."""
    tries = 0
    while True:
        try:
            return await attempt()
        except ModelError as exc:
            if not exc.retryable or tries >= policy.retries:
                raise
            tries += 1
            if on_retry is not None:
                on_retry(exc)
            wait = policy.delay(tries, jitter or _JITTER)
            if exc.retry_after is not None:  # the provider's Retry-After, when it is longer
                wait = max(wait, min(exc.retry_after, MAX_RETRY_AFTER))
            await asyncio.sleep(wait)
