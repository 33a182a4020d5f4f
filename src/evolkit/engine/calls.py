"""Every model call of a run goes through :class:`CallRunner`.

It answers from the run journal or the response cache when it can; otherwise it sends the
request with bounded concurrency, a per-call timeout, optional request/token-per-minute limits
and retries with exponential backoff and jitter, then journals the result before returning it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolkit._protocols import Backend, ErrorClassifier
from evolkit._types import ChatMessage, Completion
from evolkit.engine.cache import ResponseCache
from evolkit.engine.failures import FailurePolicy, FailureTracker, PluginError, plugin_error
from evolkit.engine.hedge import Hedger
from evolkit.engine.journal import CallSite, Journal, call_key
from evolkit.engine.retry import RetryPolicy, retrying
from evolkit.errors import MODEL_ERROR_KINDS, EvolkitError, ModelError

if TYPE_CHECKING:
    from evolkit.engine.batcher import Batcher
    from evolkit.engine.budget import Budget
    from evolkit.engine.config import EvolveConfig
    from evolkit.engine.plan import RunPlan

__all__ = ["CallCounters", "CallRunner", "RateLimiter", "open_stores"]


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits, as aiolimiter leaky buckets.

    Each bucket holds one minute's allowance (a burst of ``rpm`` requests is let through at
    once, then requests flow at ``rpm / 60`` per second). Tokens are charged in two parts: the
    request's estimated prompt tokens before it is sent (:meth:`acquire`), and its completion
    tokens once it is answered (:meth:`charge`), so a run's token use stays under ``tpm``.
    ``period`` is the window in seconds (60; tests shorten it).
    """

    def __init__(self, rpm: float | None, tpm: float | None, *, period: float = 60.0) -> None:
        from aiolimiter import AsyncLimiter

        self.rpm = rpm
        self.tpm = tpm
        self._requests = AsyncLimiter(rpm, period) if rpm is not None else None
        self._tokens = AsyncLimiter(tpm, period) if tpm is not None else None

    async def acquire(self, prompt_tokens: int = 0) -> None:
        """Wait until one more request (with ``prompt_tokens`` tokens) fits the limits."""
        if self._requests is not None:
            await self._requests.acquire()
        await self.charge(prompt_tokens)

    async def charge(self, tokens: int) -> None:
        """Count ``tokens`` against the token limit, waiting while the bucket is full."""
        if self._tokens is not None and tokens > 0:
            assert self.tpm is not None
            await self._tokens.acquire(min(float(tokens), self.tpm))


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """A rough prompt size in tokens (four characters a token) for the token limit."""
    return sum(len(m["content"]) for m in messages) // 4


class CallCounters:
    """Running counts of what the runner did (mutable; the engine snapshots it)."""

    def __init__(self) -> None:
        self.sent = 0
        self.journal_hits = 0
        self.cache_hits = 0
        self.retries = 0
        self.failures = 0
        self.in_flight = 0
        self.hedged = 0  # second tries of late calls (hedge.py), counted in ``sent`` too


def open_stores(
    stack: contextlib.AsyncExitStack, journal_path: Path, cache_path: Path | None
) -> tuple[Journal, ResponseCache | None]:
    """A runner's journal and (when one is asked for) response cache, closed with ``stack``."""
    journal = Journal(journal_path)
    stack.push_async_callback(journal.aclose)
    cache = ResponseCache(cache_path) if cache_path is not None else None
    if cache is not None:
        stack.callback(cache.close)
    return journal, cache


class CallRunner:
    """Sends requests for one run. ``call`` returns a Completion or raises ModelError.

    With a ``batcher`` (batch mode) a call that is not journaled goes into a provider batch
    instead of being sent; with a ``budget`` a call that could pass it is not made.
    """

    batcher: Batcher | None = None
    budget: Budget | None = None

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
        hedge: bool = True,
        max_reply_chars: int | None = None,
    ) -> None:
        self.backend = backend
        self.max_reply_chars = max_reply_chars  # a longer reply is journaled without its text
        self.run_id = run_id
        # Counting only unless a run plan sets the rules (CallRunner.from_plan).
        self.failures = failures or FailureTracker(FailurePolicy(stops=False))
        self.concurrency = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self.journal = journal
        self.cache = cache
        self.timeout = timeout
        self.retry = RetryPolicy(retries=retries, backoff=backoff, backoff_max=backoff_max)
        self.counters = CallCounters()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = RateLimiter(rpm, tpm)
        self._jitter = random.Random()  # jitter only spaces retries; it never changes results
        self.hedge = hedge
        self.hedger = Hedger()

    def key_for(
        self, messages: Sequence[ChatMessage], params: Mapping[str, Any], site: CallSite | None
    ) -> str:
        """The journal and cache key of one call: the request and where it comes from."""
        return call_key(self.backend.model, messages, params, self.run_id, site)

    @classmethod
    def from_plan(
        cls,
        plan: RunPlan,
        backend: Backend,
        journal: Journal,
        cache: ResponseCache | None = None,
    ) -> CallRunner:
        """The runner for ``plan``: the one place the plan's call settings reach a runner."""
        runner = cls.from_config(plan.config, backend, journal, cache)
        runner.run_id = plan.run_id
        cfg = plan.config
        runner.failures = FailureTracker(
            FailurePolicy(
                max_failure_rate=cfg.max_failure_rate,
                breaker_calls=cfg.breaker_calls,
                strict=cfg.strict,
            )
        )
        return runner

    @classmethod
    def from_config(
        cls,
        config: EvolveConfig,
        backend: Backend,
        journal: Journal,
        cache: ResponseCache | None = None,
    ) -> CallRunner:
        """The runner for a fitted :class:`EvolveConfig` (``EvolveConfig.fitted``)."""
        if config.concurrency is None or config.timeout is None:
            raise ValueError("CallRunner.from_config needs a fitted config (EvolveConfig.fitted)")
        return cls(
            backend,
            journal,
            cache=cache,
            concurrency=config.concurrency,
            timeout=config.timeout,
            retries=config.retries,
            backoff=config.backoff,
            backoff_max=config.backoff_max,
            rpm=config.rpm,
            tpm=config.tpm,
            hedge=bool(config.hedge),  # never with a budget: see _attempt
            max_reply_chars=config.max_reply_chars,
        )

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
            completion = await self._paid(key, messages, params)
        except (ModelError, PluginError) as error:
            self.failures.failure(error)  # failures.py: may stop the run
            raise
        self.failures.success()
        if self.cache is not None:
            await self.cache.put(key, completion)
        return completion, True

    async def _paid(
        self, key: str, messages: Sequence[ChatMessage], params: dict[str, Any]
    ) -> Completion:
        """A call not answered from disk: sent (or batched), within the budget, journaled."""
        if self.budget is None:
            return await self._fetch(key, messages, params)
        async with self.budget.hold(messages, params) as charge:
            return charge(await self._fetch(key, messages, params))

    async def _fetch(
        self, key: str, messages: Sequence[ChatMessage], params: dict[str, Any]
    ) -> Completion:
        if self.batcher is not None:
            return await self.batcher.complete(key, messages, params)  # journaled by the batcher
        return await self._send(messages, params, key)

    async def _send(
        self, messages: Sequence[ChatMessage], params: dict[str, Any], key: str
    ) -> Completion:
        def counted(_: ModelError) -> None:
            self.counters.retries += 1

        try:
            return await retrying(
                lambda: self._attempt(messages, params, key),
                self.retry,
                on_retry=counted,
                jitter=self._jitter,
            )
        except ModelError:
            self.counters.failures += 1
            raise

    async def _attempt(
        self, messages: Sequence[ChatMessage], params: dict[str, Any], key: str
    ) -> Completion:
        """One try: a slot, the rate limits, the call within the timeout (a late one also
        tried a second time on a spare slot, hedge.py); any failure as a :class:`ModelError`.

        The slot is held until the answer is journaled, so at any moment at most
        ``concurrency`` answered calls are not yet on disk: a kill repeats no more calls than
        that on resume. A reply over ``max_reply_chars`` is journaled and returned without its
        text (:meth:`Completion.within`): the caller's verdict is the same on a resume."""
        async with self._semaphore:
            completion = (await self._answer(messages, params)).within(self.max_reply_chars)
            await self.journal.append(key, completion)
        await self._limiter.charge(completion.usage.completion_tokens)
        return completion

    async def _answer(self, messages: Sequence[ChatMessage], params: dict[str, Any]) -> Completion:
        """The reply within the limits and the timeout, any failure as a :class:`ModelError`."""
        hedging = self.hedge and self.budget is None  # batched calls never come here
        try:
            await self._within_limits(messages)
            return await self.hedger.first_answer(
                lambda: self._request(messages, params),
                self.timeout,
                (lambda: self._second_try(messages, params)) if hedging else None,
                spare=lambda: not self._semaphore.locked(),
            )
        except asyncio.TimeoutError:
            raise ModelError(
                f"no reply within {self.timeout:g}s", kind="timeout", retryable=True
            ) from None
        except (ModelError, asyncio.CancelledError, EvolkitError):
            raise  # EvolkitError: a backend that cannot start, a stopped run
        except Exception as exc:
            raise self._classify(exc) from exc

    async def _second_try(
        self, messages: Sequence[ChatMessage], params: dict[str, Any]
    ) -> Completion:
        async with self._semaphore:
            await self._within_limits(messages)
            self.counters.hedged += 1
            return await self._request(messages, params)

    async def _within_limits(self, messages: Sequence[ChatMessage]) -> None:
        prompt = estimate_tokens(messages) if self._limiter.tpm is not None else 0
        await self._limiter.acquire(prompt)

    async def _request(self, messages: Sequence[ChatMessage], params: dict[str, Any]) -> Completion:
        """The request itself, counted as sent and in flight."""
        self.counters.in_flight += 1
        self.counters.sent += 1
        try:
            return await self.backend.complete(messages, **params)
        finally:
            self.counters.in_flight -= 1

    def _classify(self, exc: Exception) -> ModelError:
        """A model fault as the backend classifies it; anything else is a programming error
        in the backend, raised as :class:`PluginError` (never retried)."""
        if isinstance(self.backend, ErrorClassifier):
            error = self.backend.classify_error(exc)
            if error.kind in MODEL_ERROR_KINDS:
                return error
        raise plugin_error(type(self.backend).__name__, exc) from exc
