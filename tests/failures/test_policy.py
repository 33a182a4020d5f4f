"""Which failures are retried, how plugin errors are counted, and what identifies a call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit import Instruction, Rejected, Verdict, hookimpl
from evolkit._markers import REWRITE_TAG, between
from evolkit._plugins import Plugins
from evolkit._registry import FilterRegistry, MutatorRegistry
from evolkit._types import ChatMessage, Completion
from evolkit.engine.failures import RunAborted
from evolkit.engine.journal import CallSite, call_key, request_key
from evolkit.engine.ordered import ordered_map
from evolkit.errors import ModelError
from evolkit.testing import FakeBackend

SEEDS = ["Plan a picnic for four people.", "Write a note to a neighbour about a parcel."]


class Broken:
    """An operator whose ``parse`` has a bug."""

    name = "test.broken"
    kind = "test"

    def applies_to(self, instruction: Instruction) -> bool:
        return True

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        return [{"role": "user", "content": f"Rewrite <{REWRITE_TAG}>{instruction.text}"}]

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        return parent.derive(between(REWRITE_TAG, reply) + 1)  # type: ignore[operator]


class BrokenPlugin:
    @hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(Broken(), default=False)


def plugins_with(*objects: object) -> Plugins:
    plugins = Plugins.load(entry_points=False)
    for index, obj in enumerate(objects):
        plugins.register(obj, name=f"test-plugin-{index}")
    return plugins


def test_plugin_type_error_is_not_retried_and_counted_under_its_name() -> None:
    backend = FakeBackend(lambda m: f"<{REWRITE_TAG}>A harder picnic plan.</{REWRITE_TAG}>")
    result = evolkit.evolve(
        SEEDS,
        rounds=1,
        backend=backend,
        plugins=plugins_with(BrokenPlugin()),
        operators=["test.broken"],
        respond_seeds=False,
        max_failure_rate=1.0,
    )
    assert backend.count == len(SEEDS)  # one mutate call each: nothing retried
    assert result.stats.drop_reasons == {"plugin_error:test.broken": len(SEEDS)}
    assert result.stats.retries == 0
    drop = next(result.iter_drops())
    assert drop.text is not None and "TypeError" in drop.text
    assert result.stats.failures == {"plugin_error:test.broken": len(SEEDS)}


def test_strict_stops_at_the_first_plugin_error() -> None:
    backend = FakeBackend(lambda m: f"<{REWRITE_TAG}>A harder picnic plan.</{REWRITE_TAG}>")
    with pytest.raises(RunAborted, match=r"--strict.*test\.broken raised TypeError"):
        evolkit.evolve(
            SEEDS,
            rounds=1,
            backend=backend,
            plugins=plugins_with(BrokenPlugin()),
            operators=["test.broken"],
            respond_seeds=False,
            strict=True,
        )


def test_backend_type_error_is_a_plugin_error_not_a_retried_fault() -> None:
    class Buggy(FakeBackend):
        async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
            self.count += 1
            raise TypeError("unexpected keyword 'temprature'")

    backend = Buggy()
    result = evolkit.evolve(
        SEEDS, rounds=1, backend=backend, respond_seeds=False, max_failure_rate=1.0
    )
    assert backend.count == len(SEEDS)
    assert result.stats.drop_reasons == {"plugin_error:Buggy": len(SEEDS)}


class JudgeBug:
    name = "test.judge_bug"
    needs_response = False

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Any) -> Verdict:
        raise KeyError("score")


class JudgeBugPlugin:
    @hookimpl
    def evolkit_register_filters(self, registry: FilterRegistry) -> None:
        registry.add(JudgeBug(), default=False)


def test_filter_error_follows_the_same_policy() -> None:
    result = evolkit.evolve(
        SEEDS,
        rounds=1,
        backend=FakeBackend.default(),
        plugins=plugins_with(JudgeBugPlugin()),
        filters=["test.judge_bug"],
        respond=False,
        respond_seeds=False,
        max_failure_rate=1.0,
    )
    assert result.stats.drop_reasons == {"plugin_error:test.judge_bug": len(SEEDS)}


class Vote:
    """A filter asking the model the same question ``k`` times (self-consistency)."""

    name = "test.vote"
    needs_response = False
    k = 3

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Any) -> Verdict:
        question: list[ChatMessage] = [{"role": "user", "content": f"Good? {candidate.text}"}]
        answers = [(await backend.complete(question, temperature=1.0)).text for _ in range(self.k)]
        return Verdict.kept(self.name, metadata={"votes": answers})


class VotePlugin:
    @hookimpl
    def evolkit_register_filters(self, registry: FilterRegistry) -> None:
        registry.add(Vote(), default=False)


def test_k_identical_requests_for_k_samples_get_k_calls(tmp_path: Path) -> None:
    votes = iter(range(10_000))

    def reply(messages: Sequence[ChatMessage]) -> str:
        if messages[-1]["content"].startswith("Good?"):
            return f"vote {next(votes)}"
        return f"<{REWRITE_TAG}>Plan number {next(votes)}, with a twist.</{REWRITE_TAG}>"

    settings: dict[str, Any] = {
        "rounds": 1,
        "plugins": plugins_with(VotePlugin()),
        "filters": ["test.vote"],
        "respond": False,
        "respond_seeds": False,
        "output": tmp_path / "out.jsonl",
    }
    backend = FakeBackend(reply)
    result = evolkit.evolve(SEEDS, backend=backend, **settings)
    evolved = [row for row in result if row.round == 1]
    assert evolved
    for row in evolved:
        assert len(set(row.metadata["votes"])) == Vote.k  # k separate answers
    asked = [m for m, _ in backend.calls if m[-1]["content"].startswith("Good?")]
    assert len(asked) == Vote.k * len(evolved)
    # a resumed run replays the k answers of round 1 from the journal, without a call
    again = FakeBackend(reply)
    longer = evolkit.evolve(SEEDS, backend=again, **{**settings, "rounds": 2})
    replayed = {row.id: row.metadata["votes"] for row in longer if row.round == 1}
    assert replayed == {row.id: row.metadata["votes"] for row in evolved}
    round_2 = [row for row in longer if row.round == 2]
    asked_again = [m for m, _ in again.calls if m[-1]["content"].startswith("Good?")]
    assert len(asked_again) == Vote.k * len(round_2)  # only round 2's samples were asked


def test_call_key_is_pinned() -> None:
    """The journal key of a call; changing it silently orphans every journal on disk."""
    messages: list[ChatMessage] = [{"role": "user", "content": "Plan a picnic."}]
    params = {"temperature": 0.7, "max_tokens": 512}
    assert request_key("openai/x", messages, params) == (
        "89530a5b21f64a971a2ef0f792ed0d1193047dc26f71d98d2043f7fc8e2f01b5"
    )
    site = CallSite(round=2, parent="0123456789abcdef", stage="filter:test.vote", sample=1)
    key = call_key("openai/x", messages, params, "run-1", site)
    assert key == "cfaf2962ef10675e0debb532421c70d8fd049403824ef15f46cdfeb6bf648898"
    other_sample = CallSite(2, "0123456789abcdef", "filter:test.vote", 2)
    assert key != call_key("openai/x", messages, params, "run-1", other_sample)
    assert key != call_key("openai/x", messages, params, "run-2", site)


def test_only_retryable_model_errors_are_retried() -> None:
    attempts: list[str] = []

    def reply(messages: Sequence[ChatMessage]) -> str:
        attempts.append(messages[-1]["content"])
        raise ModelError("slow down", kind="rate_limit", retryable=True, retry_after=0.2)

    backend = FakeBackend(reply)
    started = asyncio.get_event_loop_policy()  # noqa: F841 - keeps the loop policy warm
    import time

    start = time.monotonic()
    result = evolkit.evolve(
        SEEDS[:1],
        rounds=1,
        backend=backend,
        respond_seeds=False,
        retries=2,
        backoff=0.0,
        max_failure_rate=1.0,
    )
    assert len(attempts) == 3
    assert time.monotonic() - start >= 0.4  # Retry-After honoured on both retries
    assert result.stats.drop_reasons == {"model_error:rate_limit": 1}


async def test_a_stalled_head_does_not_stop_new_work() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def work(index: int, item: int) -> int:
        started.append(index)
        if index == 0:
            await release.wait()
        return item

    results: list[int] = []

    async def consume() -> None:
        async for value in ordered_map(range(40), work, window=4, buffer=64):
            results.append(value)

    task = asyncio.ensure_future(consume())
    for _ in range(200):
        await asyncio.sleep(0)
    assert len(started) == 40  # item 0 stalls; the 39 after it all ran meanwhile
    assert results == []  # ... but none is committed before it
    release.set()
    await task
    assert results == list(range(40))


async def test_reorder_buffer_bounds_memory() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def work(index: int, item: int) -> int:
        started.append(index)
        if index == 0:
            await release.wait()
        return item

    async def consume() -> list[int]:
        return [v async for v in ordered_map(range(1000), work, window=4, buffer=16)]

    task = asyncio.ensure_future(consume())
    for _ in range(200):
        await asyncio.sleep(0)
    assert len(started) == 16
    release.set()
    assert await task == list(range(1000))


WARN_SCRIPT = """
import asyncio, warnings
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.backends._litellm_import import import_litellm
from fakeserver import FakeServer

async def many(url):
    backend = LiteLLMBackend("openai/fake", {"api_base": url, "api_key": "x"})
    messages = [{"role": "user", "content": "hello"}]
    await asyncio.gather(*(backend.complete(messages) for _ in range(50)))
    await import_litellm().close_litellm_async_clients()

with FakeServer(latency=0.02, jitter=0.02).run_in_thread() as server:
    asyncio.run(many(server.url))
warnings.warn("the user's own warning", UserWarning)
"""


def test_user_warnings_still_print_after_concurrent_litellm_calls() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": ""}
    done = subprocess.run(
        [sys.executable, "-c", WARN_SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "UserWarning: the user's own warning" in done.stderr


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),  # unreadable: no wait, and no crash
        ({"retry-after-ms": "x"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_one_place_and_never_raises(
    headers: dict[str, str], wait: float | None
) -> None:
    from evolkit.backends._classify import retry_after_header, retry_after_seconds

    class Refused(Exception):
        def __init__(self) -> None:
            self.response = type("Response", (), {"headers": headers})()

    assert retry_after_header(headers) == wait
    assert retry_after_seconds(Refused()) == wait
