"""Every model call of a run goes through :class:`CallRunner`.

It answers from the run journal or the response cache when it can; otherwise it sends the
request with bounded concurrency, a per-call timeout, optional request/token-per-minute limits
and retries with exponential backoff and jitter, then journals the result before returning it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from evolkit._protocols import Backend, ErrorClassifier
from evolkit._types import ChatMessage, Completion
from evolkit.engine.cache import ResponseCache
from evolkit.engine.failures import FailureTracker, PluginError, plugin_error
from evolkit.engine.journal import CallSite, Journal, call_key
from evolkit.errors import MODEL_ERROR_KINDS, EvolkitError, ModelError

__all__ = ["CallCounters", "CallRunner", "RateLimiter"]

#: The longest wait a provider's ``Retry-After`` may impose on one retry.
_MAX_RETRY_AFTER = 300.0


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits over a sliding 60 s window."""

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._requests: list[float] = []
        self._tokens: list[tuple[float, int]] = []
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rpm is None and self.tpm is None:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._requests = [t for t in self._requests if now - t < 60.0]
                self._tokens = [(t, n) for t, n in self._tokens if now - t < 60.0]
                wait = 0.0
                if self.rpm is not None and len(self._requests) >= self.rpm:
                    wait = max(wait, 60.0 - (now - self._requests[0]))
                if self.tpm is not None and sum(n for _, n in self._tokens) >= self.tpm:
                    wait = max(wait, 60.0 - (now - self._tokens[0][0]))
                if wait <= 0:
                    self._requests.append(now)
                    return
                await asyncio.sleep(wait)

    def record_tokens(self, tokens: int) -> None:
        if self.tpm is not None:
            self._tokens.append((time.monotonic(), tokens))


class CallCounters:
    """Running counts of what the runner did (mutable; the engine snapshots it)."""

    def __init__(self) -> None:
        self.sent = 0
        self.journal_hits = 0
        self.cache_hits = 0
        self.retries = 0
        self.failures = 0
        self.in_flight = 0


class CallRunner:
    """Sends requests for one run. ``call`` returns a Completion or raises ModelError."""

    def __init__(
        self,
        backend: Backend,
        journal: Journal,
        *,
        cache: ResponseCache | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        rpm: float | None = None,
        tpm: float | None = None,
        run_id: str = "",
        failures: FailureTracker | None = None,
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.failures = failures if failures is not None else FailureTracker()
        self.concurrency = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self.journal = journal
        self.cache = cache
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.counters = CallCounters()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = RateLimiter(rpm, tpm)
        self._jitter = random.Random()  # jitter only spaces retries; it never changes results

    def key_for(
        self, messages: Sequence[ChatMessage], params: Mapping[str, Any], site: CallSite | None
    ) -> str:
        """The journal and cache key of one call: the request and where it comes from."""
        return call_key(self.backend.model, messages, params, self.run_id, site)

    async def call(
        self,
        messages: Sequence[ChatMessage],
        params: Mapping[str, Any] | None = None,
        site: CallSite | None = None,
    ) -> tuple[Completion, bool]:
        """The completion for ``messages`` and whether it cost a model call just now.

        ``site`` names where the call comes from (round, parent, stage, sample): two calls
        with the same request but different sites are two calls, with two answers.
        """
        params = dict(params or {})
        key = self.key_for(messages, params, site)
        done = self.journal.get(key)
        if done is not None:
            self.counters.journal_hits += 1
            return done, False
        if self.cache is not None:
            cached = await self.cache.get(key)
            if cached is not None:
                self.counters.cache_hits += 1
                await self.journal.append(key, cached)
                return cached, False
        try:
            completion = await self._send(messages, params)
        except (ModelError, PluginError) as error:
            self.failures.failure(error)
            raise
        self.failures.success()
        await self.journal.append(key, completion)
        if self.cache is not None:
            await self.cache.put(key, completion)
        return completion, True

    async def _send(self, messages: Sequence[ChatMessage], params: dict[str, Any]) -> Completion:
        attempt = 0
        while True:
            try:
                async with self._semaphore:
                    await self._limiter.acquire()
                    self.counters.in_flight += 1
                    self.counters.sent += 1
                    try:
                        completion = await asyncio.wait_for(
                            self.backend.complete(messages, **params), self.timeout
                        )
                    finally:
                        self.counters.in_flight -= 1
            except asyncio.TimeoutError:
                error = ModelError(
                    f"no reply within {self.timeout:g}s", kind="timeout", retryable=True
                )
            except ModelError as exc:
                error = exc
            except (asyncio.CancelledError, EvolkitError):
                raise  # a backend that cannot start, a stopped run: not a failed call
            except Exception as exc:
                error = self._classify(exc)
            else:
                self._limiter.record_tokens(completion.usage.total_tokens)
                return completion
            if not error.retryable or attempt >= self.retries:
                self.counters.failures += 1
                raise error
            attempt += 1
            self.counters.retries += 1
            await asyncio.sleep(self._delay(attempt, error))

    def _classify(self, exc: Exception) -> ModelError:
        """A model fault as the backend classifies it; anything else is a programming error
        in the backend, raised as :class:`PluginError` (never retried)."""
        if isinstance(self.backend, ErrorClassifier):
            error = self.backend.classify_error(exc)
            if error.kind in MODEL_ERROR_KINDS:
                return error
        raise plugin_error(type(self.backend).__name__, exc) from exc

    def _delay(self, attempt: int, error: ModelError) -> float:
        """Exponential backoff with jitter, or the provider's ``Retry-After`` when longer."""
        delay = float(min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))
        delay *= 0.5 + self._jitter.random()
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, _MAX_RETRY_AFTER))
        return delay
