"""A fake OpenAI-compatible model server for tests and benchmarks, with injectable faults.

It answers ``POST /v1/chat/completions`` (plain or ``stream=true``) and ``GET /v1/models`` on
loopback, computing replies with :func:`evolkit.testing.default_reply` (or your ``handler``), so
evolkit's built-in prompts get rewrites, judgements and answers. Latency and faults (429, 500,
503, timeouts, dropped connections, malformed bodies) are drawn per *(request key, attempt)* from
the seed; see :mod:`fakeserver._faults` and :class:`FaultPlan`.

Three ways to run it::

    async with FakeServer(latency=0.05, faults=FaultPlan(rate_429=0.1)) as server:
        backend = LiteLLMBackend("openai/fake", {"api_base": server.url, "api_key": "x"})

    with FakeServer().run_in_thread() as server:  # its own event loop, for sync code
        ...

    with FakeServer(latency=0.1).run_in_process() as server:  # its own process (and GIL)
        ...

or from a shell: ``python -m fakeserver --port 8000 --latency 0.1 --rate-503 0.05``,
which prints the base URL (``http://127.0.0.1:8000/v1``) and serves until interrupted.

Counters (:class:`ServerStats`) are in ``server.stats``; a server in another process serves them
as JSON at ``GET /_fake/stats`` (``POST /_fake/reset`` clears them).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from evolkit._types import ChatMessage
from evolkit.testing import default_reply
from fakeserver._faults import (
    FAULT_KINDS,
    FaultKind,
    FaultPlan,
    ServerStats,
    request_key,
    unit_draw,
)
from fakeserver._process import ServerProcess
from fakeserver._wire import (
    chat_messages,
    completion_body,
    error_body,
    models_body,
    stream_chunks,
    truncate,
    words,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "FAULT_KINDS",
    "FakeServer",
    "FaultKind",
    "FaultPlan",
    "ServerHandler",
    "ServerStats",
    "request_key",
]

#: A reply function: the request's messages in, the reply text out (may be a coroutine).
ServerHandler = Callable[[list[ChatMessage]], "str | Awaitable[str]"]

_JSON = "application/json"
_ERRORS: dict[str, tuple[int, str, str, str | None]] = {
    "429": (
        429,
        "Rate limit reached (injected by the fake server)",
        "rate_limit_error",
        "rate_limit_exceeded",
    ),
    "500": (500, "Internal error (injected by the fake server)", "server_error", None),
    "503": (503, "Service unavailable (injected by the fake server)", "server_error", None),
}


class FakeServer:
    """An OpenAI-compatible chat-completions server on ``host`` (loopback) and a free port.

    ``latency`` seconds (plus a uniform draw in ``[-jitter, +jitter]``, never below 0) pass before
    every answer and every fault but ``timeout``. ``faults`` and ``seed`` decide which attempts
    fail, deterministically per request key (model + messages) and attempt number, whatever order
    requests arrive in; only identical requests sent at the same moment race for their attempt
    numbers. ``handler(messages)`` computes the reply text (default:
    :func:`evolkit.testing.default_reply`); ``max_tokens`` cuts the reply to that many words with
    ``finish_reason="length"``. Token counts in ``usage`` are words. With ``api_key``, a request
    without ``Authorization: Bearer <api_key>`` gets OpenAI's 401; with ``listed_models_only``, a
    request for a model not in ``models`` gets OpenAI's 404 (``model_not_found``).

    litellm keeps HTTP clients cached per event loop: a test that calls this server through
    litellm should ``await litellm.close_litellm_async_clients()`` before its loop ends, or the
    client's sockets are reported unclosed when the next loop reuses the cache.
    """

    def __init__(
        self,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        seed: int = 0,
        handler: ServerHandler | None = None,
        *,
        jitter: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = ("fake",),
        backlog: int = 2048,
        api_key: str | None = None,
        listed_models_only: bool = False,
    ) -> None:
        if latency < 0 or jitter < 0:
            raise ValueError("FakeServer latency and jitter must be >= 0")
        if not models:
            raise ValueError("FakeServer needs at least one model name")
        self.latency = latency
        self.jitter = jitter
        self.faults = faults if faults is not None else FaultPlan()
        self.seed = seed
        self.handler = handler
        self.host = host
        self.port = port
        self.models = tuple(models)
        self.backlog = backlog
        self.api_key = api_key
        self.listed_models_only = listed_models_only
        self.stats = ServerStats()
        self._runner: web.BaseRunner | None = None
        self._held: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        where = self.url if self._runner is not None else "not started"
        return f"FakeServer({where}, latency={self.latency}, faults={self.faults.total:.3f})"

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. ``http://127.0.0.1:41234/v1``."""
        if self._runner is None:
            raise RuntimeError("FakeServer is not running; use `async with FakeServer() as s`")
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        """Bind and start serving on the running event loop."""
        if self._runner is not None:
            raise RuntimeError("FakeServer is already running")
        from aiohttp import web

        server = web.Server(self._dispatch, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.25)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, backlog=self.backlog)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving: held requests are cut, in-flight ones get 0.25 s to finish."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for task in list(self._held):
            task.cancel()
        await runner.cleanup()

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[FakeServer]:
        """Serve on a fresh event loop in a background thread for the ``with`` block."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())

        thread = threading.Thread(target=serve, name="evolkit-fake-server", daemon=True)
        thread.start()
        started.wait()
        try:
            if failure:
                raise failure[0]
            yield self
        finally:
            if not failure:
                loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def run_in_process(
        self, *, python: str | None = None, startup_timeout: float = 30.0
    ) -> ServerProcess:
        """This configuration served by ``python -m fakeserver`` in a child process.

        Use as ``with server.run_in_process() as remote: remote.url``; ``remote.snapshot()``
        fetches the counters. A custom ``handler`` cannot cross processes.
        """
        if self.handler is not None:
            raise ValueError("a FakeServer with a custom handler cannot run in another process")
        return ServerProcess(self.cli_args(), python=python, startup_timeout=startup_timeout)

    def cli_args(self) -> list[str]:
        """The command-line flags that rebuild this server's configuration."""
        args = ["--host", self.host, "--port", str(self.port), "--seed", str(self.seed)]
        args += ["--latency", repr(self.latency), "--jitter", repr(self.jitter)]
        args += ["--backlog", str(self.backlog), "--models", ",".join(self.models)]
        if self.api_key is not None:
            args += ["--api-key", self.api_key]
        if self.listed_models_only:
            args.append("--listed-models-only")
        return args + self.faults.to_args()

    # -- counters --------------------------------------------------------------------------

    def snapshot(self) -> ServerStats:
        """A copy of the counters (safe from any thread)."""
        return self.stats.snapshot()

    def reset_stats(self) -> None:
        """Clear the counters, attempt numbers included."""
        self.stats.reset()

    # -- request handling ------------------------------------------------------------------

    def delay(self, key: str, attempt: int) -> float:
        """The latency for attempt ``attempt`` of request ``key``."""
        if not self.jitter:
            return self.latency
        u = unit_draw(self.seed, key, attempt, "latency")
        return max(0.0, self.latency + (2.0 * u - 1.0) * self.jitter)

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        from aiohttp import web

        path = request.path
        if path.startswith("/v1/"):
            path = path[3:]
        method = request.method
        if path == "/chat/completions" and method == "POST":
            return await self._chat(request)
        if path == "/models" and method == "GET":
            return web.Response(body=models_body(self.models), content_type=_JSON)
        if path == "/_fake/stats" and method == "GET":
            return web.Response(body=json.dumps(self.stats.to_dict()).encode(), content_type=_JSON)
        if path == "/_fake/reset" and method == "POST":
            self.stats.reset()
            return web.Response(body=b"{}", content_type=_JSON)
        return web.Response(
            status=404,
            body=error_body(f"no route {method} {request.path}", "invalid_request_error"),
            content_type=_JSON,
        )

    async def _chat(self, request: web.BaseRequest) -> web.StreamResponse:
        from aiohttp import web

        refused = self._refusal(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            messages = chat_messages(body.get("messages"))
        except ValueError as exc:
            return web.Response(
                status=400, body=error_body(str(exc), "invalid_request_error"), content_type=_JSON
            )
        model = str(body.get("model") or self.models[0])
        if self.listed_models_only and model not in self.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return web.Response(
                status=404,
                body=error_body(message, "invalid_request_error", "model_not_found"),
                content_type=_JSON,
            )
        key = request_key(model, body["messages"])
        attempt, faults_so_far = self.stats.begin(key)
        try:
            fault = self.faults.decide(self.seed, key, attempt, faults_so_far)
            if fault is not None:
                self.stats.fault(key, fault)
            if fault == "timeout":
                return await self._hold(request)
            delay = self.delay(key, attempt)
            if delay > 0:
                await asyncio.sleep(delay)
            if fault is not None:
                return await self._fault_response(request, fault, model, key, attempt, body)
            return await self._answer(request, body, messages, model, key, attempt)
        finally:
            self.stats.end()

    def _refusal(self, request: web.BaseRequest) -> web.Response | None:
        """OpenAI's 401 when the server has an ``api_key`` and the request does not carry it."""
        from aiohttp import web

        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return web.Response(
            status=401,
            body=error_body(
                "Incorrect API key provided (the fake server expects another key).",
                "invalid_request_error",
                "invalid_api_key",
            ),
            content_type=_JSON,
        )

    async def _answer(
        self,
        request: web.BaseRequest,
        body: dict[str, Any],
        messages: list[ChatMessage],
        model: str,
        key: str,
        attempt: int,
    ) -> web.StreamResponse:
        from aiohttp import web

        reply = (self.handler or default_reply)(messages)
        text = await reply if inspect.isawaitable(reply) else reply
        if not isinstance(text, str):
            raise TypeError(f"the FakeServer handler returned {type(text).__name__}, not str")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        text, finish = truncate(text, limit)
        prompt_tokens = sum(words(m["content"]) for m in messages)
        out = completion_body(
            request_id=f"chatcmpl-fake-{key}-{attempt}",
            model=model,
            text=text,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
        )
        self.stats.answered(prompt_tokens, out["usage"]["completion_tokens"])
        if body.get("stream"):
            options = body.get("stream_options") or {}
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return await self._stream(request, stream_chunks(out, include_usage))
        return web.Response(body=json.dumps(out).encode(), content_type=_JSON)

    async def _fault_response(
        self,
        request: web.BaseRequest,
        fault: FaultKind,
        model: str,
        key: str,
        attempt: int,
        body: dict[str, Any],
    ) -> web.StreamResponse:
        from aiohttp import web

        if fault == "drop":
            return self._drop(request)
        if fault in _ERRORS:
            status, message, type_, code = _ERRORS[fault]
            headers = {}
            if fault == "429":
                after = self.faults.retry_after
                headers["Retry-After"] = str(int(after)) if after == int(after) else repr(after)
                headers["retry-after-ms"] = str(int(after * 1000))
            return web.Response(
                status=status,
                body=error_body(message, type_, code),
                content_type=_JSON,
                headers=headers,
            )
        if fault == "bad_json":
            payload = b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{"ind'
        else:  # no_choices
            payload = json.dumps(
                {
                    "id": f"chatcmpl-fake-{key}-{attempt}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }
            ).encode()
        if body.get("stream"):
            return await self._stream(request, iter([b"data: " + payload + b"\n\n"]))
        return web.Response(body=payload, content_type=_JSON)

    async def _stream(
        self, request: web.BaseRequest, events: Iterator[bytes]
    ) -> web.StreamResponse:
        from aiohttp import web

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async def _hold(self, request: web.BaseRequest) -> web.StreamResponse:
        """The ``timeout`` fault: say nothing for ``timeout_delay`` seconds, then hang up."""
        task = asyncio.current_task()
        if task is not None:
            self._held.add(task)
        try:
            await asyncio.sleep(self.faults.timeout_delay)
        finally:
            if task is not None:
                self._held.discard(task)
        return self._drop(request)

    def _drop(self, request: web.BaseRequest) -> web.StreamResponse:
        """Close the connection without a response."""
        from aiohttp import web

        transport = request.transport
        if transport is not None:
            transport.close()
        # aiohttp cannot write this to the closed connection and drops it quietly.
        return web.Response(status=500)
