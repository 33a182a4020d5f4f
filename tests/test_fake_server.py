"""The fake OpenAI-compatible server: wire format, faults, determinism, latency, run modes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from evolkit._markers import wrap
from evolkit._types import ChatMessage
from evolkit.backends._litellm_import import import_litellm
from evolkit.backends.litellm import LiteLLMBackend, classify_error
from evolkit.errors import ModelError
from evolkit.testing import default_reply
from fakeserver import FakeServer, FaultPlan, ServerStats, request_key

T = TypeVar("T")

HELLO: list[ChatMessage] = [{"role": "user", "content": "Name three prime numbers."}]


def run_litellm(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a fresh loop, closing litellm's cached HTTP clients before it ends."""

    async def wrapper() -> T:
        try:
            return await main()
        finally:
            await import_litellm().close_litellm_async_clients()

    return asyncio.run(wrapper())


def backend(server: FakeServer, **params: Any) -> LiteLLMBackend:
    return LiteLLMBackend("openai/fake", {"api_base": server.url, "api_key": "x", **params})


async def post(session: Any, url: str, messages: list[ChatMessage], **extra: Any) -> Any:
    async with session.post(
        url + "/chat/completions", json={"model": "fake", "messages": messages, **extra}
    ) as response:
        return response.status, await response.read()


def raw_post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


# -- litellm end to end ---------------------------------------------------------------------


def test_litellm_gets_a_completion_with_usage() -> None:
    async def main() -> None:
        async with FakeServer() as server:
            completion = await backend(server).complete(HELLO)
            assert completion.text == default_reply(HELLO)
            assert completion.usage.prompt_tokens == 4
            assert completion.usage.completion_tokens == len(completion.text.split())
            assert completion.finish_reason == "stop"
            assert "fake" in completion.model
            stats = server.snapshot()
            assert (stats.requests, stats.ok, stats.total_faults) == (1, 1, 0)
            assert stats.prompt_tokens == 4

    run_litellm(main)


def test_litellm_from_successive_event_loops() -> None:
    # the engine's sync entry point runs a fresh loop per call; the cleanup in run_litellm is what
    # keeps litellm's cached clients from leaking sockets between them
    with FakeServer().run_in_thread() as server:
        model = backend(server)
        for _ in range(3):
            completion = run_litellm(lambda: model.complete(HELLO))
            assert completion.text == default_reply(HELLO)
        assert server.snapshot().ok == 3


def test_default_reply_rewrites_builtin_prompts() -> None:
    prompt: list[ChatMessage] = [
        {
            "role": "user",
            "content": f"Rewrite this. Reply in <rewrite>.\n{wrap('instruction', 'Add 2 and 3.')}",
        }
    ]

    async def main() -> None:
        async with FakeServer() as server:
            completion = await backend(server).complete(prompt)
        assert completion.text.startswith("<rewrite>")
        assert "Add 2 and 3. " in completion.text
        assert completion.text == default_reply(prompt)

    run_litellm(main)


def test_custom_handlers_sync_and_async() -> None:
    async def slow_upper(messages: list[Any]) -> str:
        await asyncio.sleep(0)
        return str(messages[-1]["content"]).upper()

    async def main() -> None:
        async with FakeServer(handler=lambda messages: "fixed reply") as server:
            assert (await backend(server).complete(HELLO)).text == "fixed reply"
        async with FakeServer(handler=slow_upper) as server:
            assert (await backend(server).complete(HELLO)).text == "NAME THREE PRIME NUMBERS."

    run_litellm(main)


def test_max_tokens_cuts_the_reply() -> None:
    async def main() -> None:
        async with FakeServer() as server:
            completion = await backend(server).complete(HELLO, max_tokens=5)
        assert completion.usage.completion_tokens == 5
        assert completion.finish_reason == "length"

    run_litellm(main)


def test_streaming_through_litellm() -> None:
    litellm = import_litellm()

    async def consume(url: str) -> tuple[str, Any]:
        stream = await litellm.acompletion(
            model="openai/fake",
            messages=HELLO,
            api_base=url,
            api_key="x",
            stream=True,
            stream_options={"include_usage": True},
        )
        parts, usage = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            usage = getattr(chunk, "usage", None) or usage
        return "".join(parts), usage

    async def main() -> tuple[str, Any]:
        async with FakeServer() as server:
            # like LiteLLMBackend: litellm's stream parsing trips pydantic deprecation warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return await consume(server.url)

    text, usage = run_litellm(main)
    assert text == default_reply(HELLO)
    assert usage is not None and usage.completion_tokens == len(text.split())


# -- faults ----------------------------------------------------------------------------------


def _classify_follows_causes() -> bool:
    """Whether classify_error looks through wrapped causes (litellm wraps JSON and connection
    errors in a 500 ``InternalServerError``)."""
    try:
        try:
            json.loads("{")
        except ValueError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        return classify_error(outer).kind == "malformed"
    return False


_WRAPPED = pytest.mark.xfail(
    not _classify_follows_causes(),
    reason="litellm reports this fault as a 500; classify_error must read the cause chain",
    strict=True,
)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("429", "rate_limit"),
        ("500", "server_error"),
        ("503", "server_error"),
        ("timeout", "timeout"),
        pytest.param("drop", "connection", marks=_WRAPPED),
        pytest.param("bad_json", "malformed", marks=_WRAPPED),
        pytest.param("no_choices", "malformed", marks=_WRAPPED),
    ],
)
def test_each_fault_is_classified_retryable(fault: Any, kind: str) -> None:
    plan = FaultPlan.only(fault, timeout_delay=10.0)

    async def main() -> tuple[ModelError, float, ServerStats]:
        async with FakeServer(faults=plan) as server:
            start = time.monotonic()
            with pytest.raises(ModelError) as caught:
                await backend(server, timeout=0.3).complete(HELLO)
            return caught.value, time.monotonic() - start, server.snapshot()

    error, elapsed, stats = run_litellm(main)
    assert stats.faults == {fault: 1}
    assert stats.ok == 0
    assert error.retryable
    assert elapsed < 5.0
    assert error.kind == kind


def test_rate_limit_carries_retry_after() -> None:
    with FakeServer(faults=FaultPlan(rate_429=1.0, retry_after=2.5)).run_in_thread() as server:
        status, headers, body = raw_post(server.url, {"model": "fake", "messages": HELLO})
    assert status == 429
    assert headers["Retry-After"] == "2.5"
    assert headers["retry-after-ms"] == "2500"
    assert json.loads(body)["error"]["type"] == "rate_limit_error"


def test_malformed_bodies_are_really_malformed() -> None:
    with FakeServer(faults=FaultPlan(rate_bad_json=1.0)).run_in_thread() as server:
        status, _, body = raw_post(server.url, {"model": "fake", "messages": HELLO})
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with FakeServer(faults=FaultPlan(rate_no_choices=1.0)).run_in_thread() as server:
        status, _, body = raw_post(server.url, {"model": "fake", "messages": HELLO})
    assert status == 200 and "choices" not in json.loads(body)


def test_fails_once_then_answers_the_retry() -> None:
    plan = FaultPlan(rate_503=1.0, max_faults_per_request=1)

    async def main() -> ServerStats:
        async with FakeServer(faults=plan) as server:
            model = backend(server)
            with pytest.raises(ModelError) as caught:
                await model.complete(HELLO)
            assert caught.value.kind == "server_error"
            assert (await model.complete(HELLO)).text == default_reply(HELLO)
            other: list[ChatMessage] = [{"role": "user", "content": "Another question."}]
            with pytest.raises(ModelError):
                await model.complete(other)
            return server.snapshot()

    stats = run_litellm(main)
    assert stats.faults == {"503": 2}
    assert stats.ok == 1
    assert stats.attempts[request_key("fake", HELLO)] == 2
    assert sorted(stats.attempts.values()) == [1, 2]


def _prompts(n: int) -> list[list[ChatMessage]]:
    return [
        [{"role": "user", "content": f"Question number {i}: what is {i} squared?"}]
        for i in range(n)
    ]


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


async def _fault_pattern(seed: int, concurrent: bool) -> list[tuple[int, ...]]:
    """The HTTP status of 3 attempts of each of 40 prompts, sent all at once or one by one."""
    import aiohttp

    plan = FaultPlan(rate_429=0.1, rate_500=0.1, rate_503=0.1, rate_bad_json=0.1)
    prompts = _prompts(40)
    async with FakeServer(faults=plan, seed=seed) as server, aiohttp.ClientSession() as session:
        pattern: list[tuple[int, ...]] = []
        for _attempt in range(3):
            if concurrent:
                replies = await asyncio.gather(
                    *(post(session, server.url, p) for p in reversed(prompts))
                )
                replies.reverse()
            else:
                replies = [await post(session, server.url, p) for p in prompts]
            pattern.append(tuple(status if _is_json(body) else -1 for status, body in replies))
        assert server.snapshot().requests == 120
    return pattern


def test_faults_are_deterministic_per_seed_whatever_the_order() -> None:
    one = asyncio.run(_fault_pattern(seed=7, concurrent=False))
    two = asyncio.run(_fault_pattern(seed=7, concurrent=True))
    other = asyncio.run(_fault_pattern(seed=8, concurrent=False))
    assert one == two
    assert one != other
    flat = [s for attempt in one for s in attempt]
    assert {200, 429, 500, 503, -1} <= set(flat)
    # attempts are drawn independently: some prompt fails first and succeeds on the retry
    assert any(one[0][i] != 200 and one[1][i] == 200 for i in range(40))


def test_fault_plan_validation_and_helpers() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan(rate_429=0.6, rate_500=0.6)
    with pytest.raises(ValueError, match="within"):
        FaultPlan(rate_drop=-0.1)
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan.only("404")  # type: ignore[arg-type]
    mixed = FaultPlan.mixed(0.7)
    assert mixed.total == pytest.approx(0.7)
    assert mixed.rate_timeout == pytest.approx(0.1)
    assert FaultPlan().decide(0, "k", 1) is None
    always = FaultPlan(rate_500=1.0, max_faults_per_request=2)
    assert [always.decide(0, "k", a, faults_so_far=a - 1) for a in (1, 2, 3)] == [
        "500",
        "500",
        None,
    ]
    shares = [FaultPlan.mixed(0.5).decide(3, f"key{i}", 1) for i in range(4000)]
    assert shares.count(None) / 4000 == pytest.approx(0.5, abs=0.04)


def test_bad_requests_get_400_and_unknown_routes_404() -> None:
    with FakeServer().run_in_thread() as server:
        assert raw_post(server.url, {"model": "fake", "messages": []})[0] == 400
        assert raw_post(server.url, {"model": "fake"})[0] == 400
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(server.url + "/nothing", timeout=10)
        caught.value.close()
        assert caught.value.code == 404
        assert server.snapshot().requests == 0


# -- latency and concurrency ------------------------------------------------------------------


def test_latency_is_honoured_and_requests_overlap() -> None:
    import aiohttp

    async def main() -> tuple[float, float, ServerStats]:
        async with FakeServer(latency=0.3) as server, aiohttp.ClientSession() as session:
            start = time.monotonic()
            await post(session, server.url, HELLO)
            single = time.monotonic() - start
            start = time.monotonic()
            replies = await asyncio.gather(*(post(session, server.url, p) for p in _prompts(30)))
            burst = time.monotonic() - start
            assert all(status == 200 for status, _ in replies)
            return single, burst, server.snapshot()

    single, burst, stats = asyncio.run(main())
    assert single >= 0.3
    assert burst >= 0.3
    assert burst < 4.5  # 30 requests at once take about one latency; one by one they take 9 s
    assert stats.max_in_flight == 30
    assert stats.in_flight == 0


def test_jitter_is_bounded_and_deterministic() -> None:
    server = FakeServer(latency=0.2, jitter=0.1, seed=1)
    delays = [server.delay(f"key{i}", 1) for i in range(200)]
    assert all(0.1 <= d <= 0.3 for d in delays)
    assert max(delays) - min(delays) > 0.15
    assert delays == [
        FakeServer(latency=0.2, jitter=0.1, seed=1).delay(f"key{i}", 1) for i in range(200)
    ]
    assert FakeServer(latency=0.05, jitter=0.1).delay("k", 1) >= 0.0


# -- run modes -------------------------------------------------------------------------------


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "evolkit-fake-server"]


def test_thread_mode_serves_sync_code_and_stops_cleanly() -> None:
    server = FakeServer(latency=0.01, faults=FaultPlan(rate_timeout=1.0, max_faults_per_request=1))
    with server.run_in_thread() as running:
        assert running is server
        assert len(_server_threads()) == 1
        with urllib.request.urlopen(server.url + "/models", timeout=10) as response:
            assert json.loads(response.read())["data"][0]["id"] == "fake"
        # a held ("timeout") request is still open when the block ends
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            body = json.dumps({"model": "fake", "messages": HELLO}).encode()
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                + b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            deadline = time.monotonic() + 5
            while server.stats.in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.stats.in_flight == 1
            url = server.url
            start = time.monotonic()
    assert time.monotonic() - start < 3.0
    assert _server_threads() == []
    assert not port_open(url)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_async_context_stops_cleanly_and_refuses_double_start() -> None:
    async def main() -> str:
        async with FakeServer() as server:
            with pytest.raises(RuntimeError, match="already running"):
                await server.start()
            return server.url

    url = asyncio.run(main())
    assert not port_open(url)


@pytest.mark.slow
def test_process_mode_serves_and_is_reaped() -> None:
    plan = FaultPlan(rate_500=1.0, max_faults_per_request=1)
    with FakeServer(latency=0.01, faults=plan, seed=3).run_in_process() as remote:
        url, pid = remote.url, remote.pid
        assert raw_post(url, {"model": "fake", "messages": HELLO})[0] == 500
        status, _, body = raw_post(url, {"model": "fake", "messages": HELLO})
        assert status == 200
        assert json.loads(body)["choices"][0]["message"]["content"] == default_reply(HELLO)
        stats = remote.snapshot()
        assert (stats.requests, stats.ok, stats.faults) == (2, 1, {"500": 1})
        remote.reset_stats()
        assert remote.snapshot().requests == 0
    assert not port_open(url)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
def test_cli_prints_its_url_and_exits_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakeserver",
            "--port",
            "0",
            "--latency",
            "0",
            "--rate-503",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert port_open(url)
        proc.terminate()
        assert proc.wait(10) == 0


def test_cli_rejects_a_bad_plan() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fakeserver", "--rate-429", "0.8", "--rate-500", "0.8"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "more than 1" in result.stderr


def test_custom_handler_cannot_go_to_another_process() -> None:
    with pytest.raises(ValueError, match="custom handler"):
        FakeServer(handler=lambda m: "x").run_in_process()
