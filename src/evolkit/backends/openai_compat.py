"""The lean backend: any OpenAI-compatible chat-completions server, spoken to directly with aiohttp.

Model strings ``openai-compatible/<model>`` with ``api_base`` (``--api-base``): vLLM, SGLang,
llama.cpp, TGI, Ollama's OpenAI endpoint, OpenAI itself. It sends the same request body litellm
would, and reads back the same text, usage and cost, with the same :class:`~evolkit.errors.
ModelError` kinds and retry verdicts, at a small fraction of litellm's CPU per call: one
``aiohttp`` session per event loop, keep-alive connections reused across calls, the body encoded
once and the reply decoded once. Cost comes from litellm's price map, looked up once per model
(litellm is imported for that alone, in a worker thread, offline); pass ``priced=False`` to skip
it for a model that has no price (a local one).

Not written with litellm because litellm spends 2.5–3 ms of CPU per call on a loopback server
where this spends about a tenth of that (``benchmarks/engine_throughput.py``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evolkit._protocols import BackendHints
from evolkit._shapes import ReplyShape, json_schema_format
from evolkit._types import ChatMessage, Completion, Usage
from evolkit.backends._classify import retry_after_header
from evolkit.backends._closing import ClosedOnExit
from evolkit.errors import BackendError, ModelError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["PREFIX", "OpenAICompatBackend", "classify_response"]

PREFIX = "openai-compatible/"
DEFAULT_TIMEOUT = 600.0  # litellm's default per-call timeout
# Parameters that configure the transport (as litellm takes them), never sent in the body.
_TRANSPORT = {
    "api_base",
    "base_url",
    "api_key",
    "timeout",
    "request_timeout",
    "extra_headers",
    "extra_body",
    "max_connections",
    "num_retries",
    "max_retries",
    "drop_params",
    "custom_llm_provider",
}


def _error_text(body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's first line."""
    try:
        data = json.loads(body)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data["error"]
        text = str(message)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = body.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else "(no body)"


def classify_response(status: int, body: bytes, headers: Mapping[str, str]) -> ModelError:
    """The :class:`ModelError` for an HTTP error reply, with the litellm backend's kinds."""
    text = f"{status} {_error_text(body)}"
    if status == 429:
        return ModelError(
            f"rate limited: {text}",
            kind="rate_limit",
            retryable=True,
            status=status,
            retry_after=retry_after_header(headers),
        )
    if status in (401, 403):
        return ModelError(
            f"authentication failed: {text} (set the server's API key, e.g. OPENAI_API_KEY)",
            kind="auth",
            status=status,
        )
    if status == 404:
        return ModelError(
            f"model not found: {text} (check --model and --api-base)",
            kind="not_found",
            status=status,
        )
    if status == 408:
        return ModelError(f"timed out: {text}", kind="timeout", retryable=True, status=status)
    if status >= 500:
        return ModelError(
            f"server error {status}: {text}", kind="server_error", retryable=True, status=status
        )
    if 400 <= status < 500 and status != 409:
        return ModelError(f"bad request: {text}", kind="bad_request", status=status)
    return ModelError(f"HTTP {text}", kind="error", retryable=True, status=status)


def _completion(payload: bytes, fallback_model: str) -> tuple[Completion, str]:
    """The completion in a 200 reply, and the model name the server reported."""
    try:
        data = json.loads(payload)
        choice = data["choices"][0]
        text = choice["message"]["content"]
    except ValueError as exc:
        raise ModelError(f"malformed reply: {exc}", kind="malformed", retryable=True) from exc
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelError(
            "malformed reply: no 'choices' in the reply", kind="malformed", retryable=True
        ) from exc
    if not isinstance(text, str):
        raise ModelError("malformed reply: empty message", kind="malformed", retryable=True)
    usage = data.get("usage") or {}
    model = str(data.get("model") or fallback_model)
    completion = Completion(
        text=text,
        usage=Usage(
            int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), 0.0
        ),
        model=model,
        finish_reason=choice.get("finish_reason"),
    )
    return completion, model


def _prices(model: str) -> tuple[float, float]:
    """(input, output) cost per token from litellm's price map; (0, 0) for an unpriced model."""
    from evolkit.backends._litellm_import import import_litellm

    litellm = import_litellm()
    for provider in ("openai", None):
        try:
            info = litellm.get_model_info(model, custom_llm_provider=provider)
        except Exception:  # litellm raises a bare Exception for a model it does not know
            continue
        return float(info.get("input_cost_per_token") or 0.0), float(
            info.get("output_cost_per_token") or 0.0
        )
    return 0.0, 0.0


class OpenAICompatBackend(ClosedOnExit):
    """Calls ``POST {api_base}/chat/completions`` of an OpenAI-compatible server with aiohttp.

    ``params`` are litellm-style: ``api_base`` (required), ``api_key`` (default
    ``$OPENAI_API_KEY``), ``timeout`` (seconds per call, default 600), ``extra_headers``,
    ``extra_body``, ``max_connections`` (default: no cap, so the pool grows to the calls in
    flight, which the run's ``--concurrency`` bounds, and stays open between calls); every other
    parameter (``temperature``, ``max_tokens``, ``seed``, ``stop``…) goes into the request body,
    per-call parameters overriding them. Retries are left to the engine.
    """

    def __init__(
        self, model: str, params: Mapping[str, Any] | None = None, *, priced: bool = True
    ) -> None:
        self.model = model
        self.served_model = model[len(PREFIX) :] if model.startswith(PREFIX) else model
        rest = dict(params or {})
        self._given = dict(rest)
        base = rest.get("api_base") or rest.get("base_url") or os.environ.get("OPENAI_API_BASE")
        if not base:
            raise BackendError(
                f"{model}: an OpenAI-compatible server needs its address: pass --api-base "
                "(e.g. http://127.0.0.1:8000/v1) or set OPENAI_API_BASE"
            )
        self.url = str(base).rstrip("/") + "/chat/completions"
        key = rest.get("api_key") or os.environ.get("OPENAI_API_KEY")
        self._headers = {"Content-Type": "application/json"}
        self._headers.update(rest.get("extra_headers") or {})
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        timeout = rest.get("timeout", rest.get("request_timeout"))
        self._given_timeout = float(timeout) if timeout is not None else None
        self.timeout = self._given_timeout or DEFAULT_TIMEOUT
        self.max_connections = int(rest.get("max_connections") or 0)
        self._extra_body = dict(rest.get("extra_body") or {})
        self.params = {k: v for k, v in rest.items() if k not in _TRANSPORT}
        self.priced = priced
        self._prices: dict[str, tuple[float, float]] = {}
        self._pricing: dict[str, asyncio.Future[tuple[float, float]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def reply_scope(self) -> dict[str, Any]:
        """The server called and the parameters sent with every call, keys left out."""
        from evolkit.redact import public_params

        return {"url": self.url, **public_params(self.params), "extra_body": self._extra_body}

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(model={self.model!r}, url={self.url!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its model and settings (a worker process opens its own connections)."""
        return functools.partial(OpenAICompatBackend, priced=self.priced), (self.model, self._given)

    @property
    def hints(self) -> BackendHints:
        """What the settings imply for a run: no more calls in flight than ``max_connections``,
        and the per-call ``timeout`` when one was given."""
        return BackendHints(parallel=self.max_connections or None, timeout=self._given_timeout)

    @property
    def constrains(self) -> bool:
        """True: OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama's OpenAI endpoint,
        OpenAI itself) take ``response_format`` with a JSON schema
        (:class:`~evolkit._protocols.ConstrainedBackend`)."""
        return True

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        """``response_format`` of type ``json_schema`` with ``shape``'s schema, strict."""
        return {"response_format": json_schema_format(shape)}

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        self._session, self._loop = session, loop
        return session

    def request_body(self, messages: Sequence[ChatMessage], params: Mapping[str, Any]) -> bytes:
        """The JSON body sent for ``messages`` with per-call ``params``."""
        body: dict[str, Any] = {"model": self.served_model, "messages": list(messages)}
        body.update(self.params)
        body.update((k, v) for k, v in params.items() if k not in _TRANSPORT)
        body.update(self._extra_body)
        body.update(params.get("extra_body") or {})
        body.pop("stream", None)
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        """One chat completion; raises :class:`ModelError` for any failure."""
        session = self._session_for_loop()
        data = self.request_body(messages, params)
        try:
            async with session.post(self.url, data=data, headers=self._headers) as response:
                payload = await response.read()
                if response.status != 200:
                    raise classify_response(response.status, payload, response.headers)
        except ModelError:
            raise
        except Exception as exc:
            raise self.classify_error(exc) from exc
        completion, served = _completion(payload, self.served_model)
        if not self.priced:
            return completion
        prompt_price, completion_price = await self._price(served)
        usage = completion.usage
        if not prompt_price and not completion_price:
            return completion
        cost = usage.prompt_tokens * prompt_price + usage.completion_tokens * completion_price
        return Completion(
            text=completion.text,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, cost),
            model=completion.model,
            finish_reason=completion.finish_reason,
        )

    async def _price(self, model: str) -> tuple[float, float]:
        """Per-token prices for ``model``, looked up once (concurrent first calls share it)."""
        known = self._prices.get(model)
        if known is not None:
            return known
        pending = self._pricing.get(model)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(asyncio.to_thread(_prices, model))
            self._pricing[model] = pending
        prices = await asyncio.shield(pending)
        self._prices[model] = prices
        return prices

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for an exception raised while sending or reading a call."""
        import aiohttp

        if isinstance(exc, ModelError):
            return exc
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
            return ModelError(f"timed out: {text}", kind="timeout", retryable=True)
        if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
            return ModelError(f"connection failed: {text}", kind="connection", retryable=True)
        if isinstance(exc, OSError):  # refused, reset, unreachable
            return ModelError(f"connection failed: {text}", kind="connection", retryable=True)
        if isinstance(exc, ValueError):
            return ModelError(f"malformed reply: {text}", kind="malformed", retryable=True)
        return ModelError(f"{type(exc).__name__}: {text}", kind="error", retryable=True)

    async def aclose(self) -> None:
        """Close this event loop's connections; safe to call twice (a later call reopens)."""
        session, loop = self._session, self._loop
        self._session = self._loop = None
        if session is not None and not session.closed and loop is asyncio.get_running_loop():
            await session.close()

    async def release_connections(self) -> None:
        """Close the pooled connections before the event loop that opened them ends."""
        await self.aclose()

    async def __aenter__(self) -> OpenAICompatBackend:
        return self
