"""Generation backends for evaluation: prompts in, ``samples`` completions per prompt out.

Three implementations share the :class:`Generator` protocol: vLLM offline inference
(:mod:`evolkit.evaluate._vllm`), batched Hugging Face transformers generation
(:mod:`evolkit.evaluate._hf`) and any :class:`evolkit.Backend` such as litellm
(:class:`BackendGenerator`, here). Each is imported only when it is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from evolkit._protocols import Backend, LoopBoundBackend
from evolkit.engine._loop import run_sync
from evolkit.engine.failures import FailurePolicy, FailureTracker
from evolkit.engine.retry import RetryPolicy, retrying
from evolkit.errors import ConfigError, ModelError
from evolkit.evaluate._styles import Prompt
from evolkit.redact import redact

__all__ = [
    "BackendGenerator",
    "Generation",
    "Generator",
    "SamplingConfig",
    "run_sync",
    "truncate_at_stop",
]

T = TypeVar("T")


def _positive(instance: Any, attribute: Any, value: int) -> None:
    if value < 1:
        raise ConfigError(f"{attribute.name} must be >= 1, got {value}")


@frozen
class SamplingConfig:
    """How to generate: greedy when ``temperature`` is 0, ``samples`` completions per prompt."""

    max_new_tokens: int = field(default=512, validator=_positive)
    samples: int = field(default=1, validator=_positive)
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (temperature 0)."""
        return self.temperature <= 0.0


@frozen
class Generation:
    """The completions of one prompt; ``prompt`` is the text the model saw (rendered)."""

    prompt: str
    outputs: tuple[str, ...]
    errors: tuple[str, ...] = ()


@runtime_checkable
class Generator(Protocol):
    """Anything that completes a batch of prompts (see :class:`SamplingConfig`)."""

    name: str

    def generate(self, prompts: Sequence[Prompt], config: SamplingConfig) -> list[Generation]:
        """One :class:`Generation` per prompt, in the order of ``prompts``."""
        ...


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    cut = len(text)
    for marker in stop:
        if marker:
            position = text.find(marker)
            if position != -1:
                cut = min(cut, position)
    return text[:cut]


class BackendGenerator:
    """Generates through an :class:`evolkit.Backend` (litellm, or a test's ``FakeBackend``).

    A model string is turned into a backend as :func:`evolkit.evolve` does it: a registered
    prefix such as ``fake/`` picks that backend, anything else is a litellm model string
    (``openai/gpt-4o-mini``, ``hosted_vllm/...`` with ``api_base``).

    Requests run concurrently, at most ``concurrency`` at a time. Plain-text prompts are sent
    as one user message; the stop strings go with every call and are applied again to the
    reply. A call that still fails after ``attempts`` tries (retryable errors only) is recorded
    as an empty output with its error, which scores as invalid.
    """

    name = "litellm"

    def __init__(
        self,
        backend: Backend | str,
        *,
        concurrency: int = 16,
        attempts: int = 3,
        params: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(backend, str):
            # Model strings resolve like everywhere in evolkit: plugin prefixes (``fake/``,
            # ``local/``…) first, every other string goes to litellm.
            from evolkit._plugins import default_plugins

            backend = default_plugins().backends().create(backend, params)
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.backend = backend
        self.concurrency = concurrency
        self.attempts = max(1, attempts)
        self.retry = RetryPolicy(retries=self.attempts - 1, backoff=1.0, backoff_max=30.0)

    def __repr__(self) -> str:
        return f"BackendGenerator({self.backend!r}, concurrency={self.concurrency})"

    async def _one(
        self,
        prompt: Prompt,
        config: SamplingConfig,
        gate: asyncio.Semaphore,
        failures: FailureTracker,
    ) -> tuple[str, str | None]:
        params: dict[str, Any] = {"max_tokens": config.max_new_tokens}
        params["temperature"] = config.temperature
        if not config.greedy and config.top_p < 1.0:
            params["top_p"] = config.top_p
        if config.stop:
            params["stop"] = list(config.stop)

        async def attempt() -> str:
            async with gate:
                completion = await self.backend.complete(prompt.as_messages(), **params)
            return truncate_at_stop(completion.text, config.stop)

        try:
            text = await retrying(attempt, self.retry)
        except ModelError as exc:
            failures.failure(exc)  # failures.py: stops an evaluation that cannot succeed
            return "", redact(str(exc))
        failures.success()
        return text, None

    async def agenerate(
        self, prompts: Sequence[Prompt], config: SamplingConfig
    ) -> list[Generation]:
        """The asynchronous form of :meth:`generate`."""
        gate = asyncio.Semaphore(self.concurrency)
        failures = FailureTracker(FailurePolicy(breaker_calls=max(20, self.concurrency)))
        tasks = [
            [
                asyncio.ensure_future(self._one(prompt, config, gate, failures))
                for _ in range(config.samples)
            ]
            for prompt in prompts
        ]
        try:
            await asyncio.gather(*(task for group in tasks for task in group))
        finally:
            for group in tasks:
                for task in group:
                    task.cancel()
            await asyncio.gather(*(t for g in tasks for t in g), return_exceptions=True)
            if isinstance(self.backend, LoopBoundBackend):
                await self.backend.release_connections()  # before this event loop ends
        generations = []
        for prompt, group in zip(prompts, tasks, strict=True):
            results = [task.result() for task in group]
            generations.append(
                Generation(
                    prompt=prompt.display(),
                    outputs=tuple(text for text, _ in results),
                    errors=tuple(error for _, error in results if error is not None),
                )
            )
        return generations

    def generate(self, prompts: Sequence[Prompt], config: SamplingConfig) -> list[Generation]:
        """Complete every prompt ``config.samples`` times."""
        return run_sync(self.agenerate(prompts, config))
