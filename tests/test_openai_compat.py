"""The lean OpenAI-compatible backend against the litellm backend, on the same fake server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import evolkit
from evolkit._plugins import default_plugins
from evolkit._protocols import (
    Backend,
    BackendHints,
    ClosableBackend,
    ErrorClassifier,
    HintedBackend,
)
from evolkit._types import ChatMessage, Completion
from evolkit.backends import openai_compat
from evolkit.backends._litellm_import import import_litellm
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.backends.openai_compat import OpenAICompatBackend, classify_response
from evolkit.errors import MODEL_ERROR_KINDS, BackendError, ModelError
from fakeserver import FakeServer, FaultPlan

T = TypeVar("T")

ASK: list[ChatMessage] = [
    {"role": "system", "content": "You rewrite instructions."},
    {"role": "user", "content": "Rewrite: list three uses of a paper clip."},
]
PRICED = "gpt-4o-mini"  # in litellm's price map, so the cost is not zero


def run_litellm(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a fresh loop, closing litellm's cached HTTP clients before it ends."""

    async def wrapper() -> T:
        try:
            return await main()
        finally:
            await import_litellm().close_litellm_async_clients()

    return asyncio.run(wrapper())


def pair(
    server: FakeServer, model: str = PRICED, base: str = "", **params: Any
) -> tuple[LiteLLMBackend, OpenAICompatBackend]:
    common = {"api_base": server.url + base, "api_key": "key", **params}
    return (
        LiteLLMBackend(f"openai/{model}", common),
        OpenAICompatBackend(f"openai-compatible/{model}", common),
    )


async def outcome(backend: Backend, **params: Any) -> Completion | ModelError:
    try:
        return await backend.complete(ASK, **params)
    except ModelError as exc:
        return exc


def test_same_text_usage_and_cost_as_litellm() -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        async with FakeServer(models=(PRICED,)) as server:
            slow, lean = pair(server, temperature=0.2)
            async with lean:
                requests = [{}, {"max_tokens": 6}, {"max_tokens": 500, "seed": 3}]
                heavy = [await slow.complete(ASK, **r) for r in requests]
                light = [await lean.complete(ASK, **r) for r in requests]
        return heavy, light

    heavy, light = run_litellm(main)
    for a, b in zip(heavy, light, strict=True):
        assert b.text == a.text
        assert b.finish_reason == a.finish_reason
        assert (b.usage.prompt_tokens, b.usage.completion_tokens) == (
            a.usage.prompt_tokens,
            a.usage.completion_tokens,
        )
        assert a.usage.cost > 0
        assert b.usage.cost == pytest.approx(a.usage.cost, rel=1e-12)
        assert b.model == a.model == PRICED
    assert heavy[1].finish_reason == "length" and heavy[1].usage.completion_tokens == 6


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # name: (server settings, backend settings, the kind both backends must report)
    "401": ({"api_key": "the-right-key"}, {}, "auth"),
    "404": ({"listed_models_only": True}, {"model": "no-such-model"}, "not_found"),
    "429": ({"faults": FaultPlan(rate_429=1.0, retry_after=2.0)}, {}, "rate_limit"),
    "500": ({"faults": FaultPlan(rate_500=1.0)}, {}, "server_error"),
    "503": ({"faults": FaultPlan(rate_503=1.0)}, {}, "server_error"),
    "dropped": ({"faults": FaultPlan(rate_drop=1.0)}, {}, "connection"),
    "bad_json": ({"faults": FaultPlan(rate_bad_json=1.0)}, {}, "malformed"),
    "no_choices": ({"faults": FaultPlan(rate_no_choices=1.0)}, {}, "malformed"),
    "timeout": (
        {"faults": FaultPlan(rate_timeout=1.0, timeout_delay=5.0)},
        {"timeout": 0.5},
        "timeout",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_error_kind_and_verdict_as_litellm(case: str) -> None:
    server_settings, backend_settings, kind = CASES[case]
    settings = dict(backend_settings)
    model = settings.pop("model", PRICED)

    async def main() -> tuple[Any, Any]:
        async with FakeServer(models=(PRICED,), **server_settings) as server:
            slow, lean = pair(server, model, **settings)
            async with lean:
                return await outcome(slow), await outcome(lean)

    heavy, light = run_litellm(main)
    assert isinstance(heavy, ModelError) and isinstance(light, ModelError), (heavy, light)
    assert light.kind == heavy.kind == kind
    assert light.retryable == heavy.retryable
    assert kind in MODEL_ERROR_KINDS
    if case.isdigit():
        assert light.status == int(case)
    if case == "429":
        assert light.retry_after == 2.0


def test_a_route_that_does_not_exist_is_not_found() -> None:
    async def main() -> Any:
        async with (
            FakeServer() as server,
            OpenAICompatBackend(
                "openai-compatible/fake", {"api_base": server.url + "/nowhere"}
            ) as lean,
        ):
            return await outcome(lean)

    error = asyncio.run(main())
    assert isinstance(error, ModelError)
    assert (error.kind, error.status, error.retryable) == ("not_found", 404, False)


def test_refused_connection_is_a_retryable_connection_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> Any:
        async with OpenAICompatBackend(
            "openai-compatible/fake", {"api_base": f"http://127.0.0.1:{port}/v1"}
        ) as lean:
            return await outcome(lean)

    error = asyncio.run(main())
    assert isinstance(error, ModelError)
    assert (error.kind, error.retryable) == ("connection", True)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_from_the_headers(
    headers: dict[str, str], seconds: float | None
) -> None:
    error = classify_response(429, b'{"error": {"message": "slow down"}}', headers)
    assert (error.kind, error.retryable, error.status) == ("rate_limit", True, 429)
    assert error.retry_after == seconds
    assert "slow down" in str(error)


def test_capabilities_and_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    lean = (
        default_plugins()
        .backends()
        .create(
            "openai-compatible/qwen", {"api_base": "http://127.0.0.1:9/v1/", "temperature": 0.1}
        )
    )
    assert isinstance(lean, OpenAICompatBackend)
    assert all(isinstance(lean, p) for p in (ClosableBackend, HintedBackend, ErrorClassifier))
    assert lean.url == "http://127.0.0.1:9/v1/chat/completions"
    assert lean.hints == BackendHints()  # nothing given, nothing suggested
    capped = OpenAICompatBackend(
        "openai-compatible/qwen",
        {"api_base": "http://x/v1", "max_connections": 8, "timeout": 30},
    )
    assert capped.hints == BackendHints(parallel=8, timeout=30.0)
    assert default_plugins().backends().resolve("openai/qwen").name == "litellm"
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with pytest.raises(BackendError, match="--api-base"):
        OpenAICompatBackend("openai-compatible/qwen", {})


def test_request_body_carries_the_parameters_and_not_the_transport_settings() -> None:
    import json

    lean = OpenAICompatBackend(
        "openai-compatible/qwen",
        {
            "api_base": "http://x/v1",
            "api_key": "k",
            "timeout": 3,
            "temperature": 0.5,
            "extra_body": {"top_k": 4},
        },
    )
    body = json.loads(lean.request_body(ASK, {"temperature": 0.9, "max_tokens": 7}))
    assert body == {
        "model": "qwen",
        "messages": ASK,
        "temperature": 0.9,
        "max_tokens": 7,
        "top_k": 4,
    }
    assert lean.timeout == 3.0


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")

    async def main() -> Any:
        async with (
            FakeServer(api_key="from-env") as server,
            OpenAICompatBackend("openai-compatible/fake", {"api_base": server.url}) as lean,
        ):
            return await outcome(lean)

    assert isinstance(asyncio.run(main()), Completion)


def test_prices_are_looked_up_once_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    real = openai_compat._prices

    def counting(model: str) -> tuple[float, float]:
        looked_up.append(model)
        return real(model)

    monkeypatch.setattr(openai_compat, "_prices", counting)

    async def main() -> list[Completion]:
        async with (
            FakeServer(models=(PRICED,)) as server,
            OpenAICompatBackend(f"openai-compatible/{PRICED}", {"api_base": server.url}) as lean,
        ):
            first = await asyncio.gather(*(lean.complete(ASK) for _ in range(20)))
            return [*first, await lean.complete(ASK)]

    completions = asyncio.run(main())
    assert looked_up == [PRICED]
    assert all(c.usage.cost > 0 for c in completions)


def test_unpriced_backend_never_looks_prices_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(model: str) -> tuple[float, float]:
        raise AssertionError("looked up a price")

    monkeypatch.setattr(openai_compat, "_prices", fail)

    async def main() -> Completion:
        async with FakeServer(models=(PRICED,)) as server:
            lean = OpenAICompatBackend(
                f"openai-compatible/{PRICED}", {"api_base": server.url}, priced=False
            )
            async with lean:
                return await lean.complete(ASK)

    assert asyncio.run(main()).usage.cost == 0.0


def test_one_backend_serves_several_event_loops() -> None:
    with FakeServer().run_in_thread() as server:
        lean = OpenAICompatBackend("openai-compatible/fake", {"api_base": server.url})

        async def main() -> str:
            try:
                return (await lean.complete(ASK)).text
            finally:
                await lean.aclose()
                await lean.aclose()  # twice is fine

        first, second = asyncio.run(main()), asyncio.run(main())
    assert first == second and first


def test_evolve_through_the_lean_backend_matches_litellm() -> None:
    seeds = [f"Explain how a {thing} works to a child." for thing in ("kite", "pump", "lock")]
    with FakeServer(seed=3).run_in_thread() as server:
        params = {"api_base": server.url, "api_key": "x"}
        lean = evolkit.evolve(
            seeds, rounds=2, seed=5, model="openai-compatible/fake", model_params=params
        )

        async def through_litellm() -> evolkit.RunResult:
            return await evolkit.aevolve(
                seeds, rounds=2, seed=5, backend=LiteLLMBackend("openai/fake", params)
            )

        heavy = run_litellm(through_litellm)
    assert [r.to_record() for r in lean] == [r.to_record() for r in heavy]
    assert lean.stats.calls_sent == heavy.stats.calls_sent > 0
    assert lean.stats.usage.total_tokens == heavy.stats.usage.total_tokens


def test_pickles_as_its_settings_for_worker_processes() -> None:
    import pickle

    with FakeServer().run_in_thread() as server:
        lean = OpenAICompatBackend(
            "openai-compatible/fake", {"api_base": server.url, "temperature": 0.4}, priced=False
        )

        async def used() -> str:
            try:
                return (await lean.complete(ASK)).text
            finally:
                await lean.aclose()

        async def one_open() -> bytes:
            await lean.complete(ASK)  # a session is open on this loop now
            try:
                return pickle.dumps(lean)
            finally:
                await lean.aclose()

        first = asyncio.run(used())
        copy = pickle.loads(asyncio.run(one_open()))
        assert isinstance(copy, OpenAICompatBackend)
        assert (copy.model, copy.url, copy.params, copy.priced) == (
            lean.model,
            lean.url,
            {"temperature": 0.4},
            False,
        )

        async def again() -> str:
            async with copy:
                return (await copy.complete(ASK)).text

        assert asyncio.run(again()) == first
