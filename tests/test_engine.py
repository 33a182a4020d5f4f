from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evolkit
from evolkit import ChatMessage, Completion, Instruction
from evolkit._markers import REWRITE_TAG
from evolkit._protocols import BackendHints
from evolkit.engine.config import EvolveConfig
from evolkit.errors import ConfigError, ModelError
from evolkit.testing import FakeBackend, default_reply

SEEDS = [
    "Explain why the sky is blue.",
    "Write a haiku about autumn rain.",
    "List three uses of a paperclip.",
    "Add 4, 8 and 15, showing each step.",
    "Describe how a bicycle gear works.",
    "Summarise the water cycle for a child.",
]


def mixed_reply(messages: Sequence[ChatMessage]) -> str:
    """Default fake replies, but some rewrites fail and some answers are refusals."""
    user = messages[-1]["content"]
    reply = default_reply(messages)
    h = sum(map(ord, user)) % 7
    if f"<{REWRITE_TAG}>" in "\n".join(m["content"] for m in messages):
        if h == 0:
            return ""  # an empty rewrite
        return reply
    if "<first>" in user:
        return "Equal" if h == 1 else "Not Equal"
    if h == 2:
        return "Sorry, I cannot help with that."
    return reply


class JitterBackend(FakeBackend):
    """Replies like ``mixed_reply`` after a random delay, so calls finish in random order."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(mixed_reply, model="fake/jitter")
        self.rng = rng

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        await asyncio.sleep(self.rng.random() * 0.003)
        return await super().complete(messages, **params)


def records(result: evolkit.RunResult) -> list[dict[str, Any]]:
    return [r.to_record() for r in result]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order_a=st.randoms(use_true_random=False),
    order_b=st.randoms(use_true_random=False),
    seed=st.integers(0, 3),
    rounds=st.integers(0, 3),
)
def test_same_seed_same_result_whatever_order(
    order_a: random.Random, order_b: random.Random, seed: int, rounds: int
) -> None:
    a = evolkit.evolve(
        SEEDS, rounds=rounds, seed=seed, backend=JitterBackend(order_a), concurrency=8
    )
    b = evolkit.evolve(
        SEEDS, rounds=rounds, seed=seed, backend=JitterBackend(order_b), concurrency=3
    )
    assert records(a) == records(b)
    assert a.stats.drop_reasons == b.stats.drop_reasons

    rows = records(a)
    by_id = {r["id"]: r for r in rows}
    # seeds are never dropped
    assert {Instruction(text=s).id for s in SEEDS} <= set(by_id)
    # no row's round exceeds the rounds asked; every evolved row names its lineage
    for r in rows:
        assert 0 <= r["round"] <= rounds
        if r["round"] > 0:
            assert r["operator"] and r["parent_id"] in by_id
            assert by_id[r["parent_id"]]["round"] < r["round"]
        else:
            assert r["parent_id"] is None and r["operator"] is None
    # every drop has a reason, and the counts add up
    drops = list(a.iter_drops())
    assert all(d.reason and d.stage and d.filter for d in drops)
    evolution_drops = [d for d in drops if d.stage != "respond_seed"]
    assert len(evolution_drops) == a.stats.dropped == sum(a.stats.drop_reasons.values())
    assert len(drops) - len(evolution_drops) == a.stats.seed_response_failures
    assert len(rows) == len(SEEDS) + a.stats.kept
    assert len({r["id"] for r in rows}) == len(rows)


def test_different_seed_differs() -> None:
    a = evolkit.evolve(SEEDS, rounds=2, seed=1, backend=FakeBackend.default())
    b = evolkit.evolve(SEEDS, rounds=2, seed=2, backend=FakeBackend.default())
    assert records(a) != records(b)


def test_failed_evolution_keeps_parent_in_pool() -> None:
    def reply(messages: Sequence[ChatMessage]) -> str:
        prompt = "\n".join(m["content"] for m in messages)
        if f"<{REWRITE_TAG}>" in prompt and "tea" in prompt and "Explain" not in prompt:
            return ""  # evolving "make tea" fails in every round
        return default_reply(messages)

    result = evolkit.evolve(
        ["make tea", "fold a paper plane"], rounds=3, backend=FakeBackend(reply)
    )
    rows = records(result)
    tea = [r for r in rows if "tea" in r["instruction"].lower()]
    plane = [r for r in rows if "plane" in r["instruction"].lower()]
    assert len(tea) == 1  # only the seed: it stayed in the pool and failed each round
    assert len(plane) == 4  # seed + one survivor per round, each from the one before
    assert result.stats.drop_reasons.get("empty_rewrite", 0) == 3


def test_model_errors_are_retried_then_recorded() -> None:
    calls = {"n": 0}

    def flaky(messages: Sequence[ChatMessage]) -> str | BaseException:
        calls["n"] += 1
        if "boom" in messages[-1]["content"]:
            return ModelError("server error 500", kind="server_error", retryable=True)
        if calls["n"] % 3 == 0:
            return ModelError("rate limited", kind="rate_limit", retryable=True)
        return default_reply(messages)

    result = evolkit.evolve(
        ["boom goes the dynamite", "make tea"],
        rounds=1,
        backend=FakeBackend(flaky),
        retries=2,
        backoff=0.0,
        respond_seeds=False,
    )
    assert result.stats.drop_reasons == {"model_error:server_error": 1}
    assert result.stats.retries >= 2
    assert result.stats.call_failures == 1
    assert result.stats.seed_response_failures == 0
    assert {r.text for r in result if r.is_seed} == {"boom goes the dynamite", "make tea"}


def test_non_retryable_error_is_not_retried() -> None:
    backend = FakeBackend(lambda m: ModelError("too long", kind="bad_request"))
    result = evolkit.evolve(
        ["make tea"], rounds=1, backend=backend, respond_seeds=False, max_failure_rate=1.0
    )
    assert len(backend.calls) == 1
    assert result.stats.drop_reasons == {"model_error:bad_request": 1}


def test_timeout_is_a_retryable_failure() -> None:
    class Slow(FakeBackend):
        async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
            await asyncio.sleep(1)
            return await super().complete(messages, **params)

    result = evolkit.evolve(
        ["make tea"],
        rounds=1,
        backend=Slow(),
        timeout=0.05,
        retries=1,
        backoff=0.0,
        respond_seeds=False,
        max_failure_rate=1.0,
    )
    assert result.stats.drop_reasons == {"model_error:timeout": 1}
    assert result.stats.retries == 1


SUNSET = "Describe a sunset over the sea in detail, naming three colours you see and the hour."


def test_duplicates_are_dropped() -> None:
    def same(messages: Sequence[ChatMessage]) -> str:
        if f"<{REWRITE_TAG}>" in messages[-1]["content"]:
            return f"<{REWRITE_TAG}>{SUNSET}</{REWRITE_TAG}>"
        return default_reply(messages)

    result = evolkit.evolve(
        ["Describe a sunset.", "Describe a sunrise."], rounds=2, backend=FakeBackend(same)
    )
    texts = [r.text for r in result]
    assert texts.count(SUNSET) == 1
    # round 1: the second copy; round 2: the sunrise again (the sunset child is "unchanged")
    assert result.stats.drop_reasons["duplicate"] == 2


def test_duplicate_seeds_collapse() -> None:
    result = evolkit.evolve(
        ["a task", "a task", "another task"], rounds=0, backend=FakeBackend.default()
    )
    assert len(result) == 2 and result.stats.duplicate_seeds == 1


def test_responses_off_skips_response_filters() -> None:
    backend = FakeBackend.default()
    result = evolkit.evolve(SEEDS[:2], rounds=1, backend=backend, respond=False)
    assert all(r.response is None for r in result)
    assert not any(
        "<first>" not in m[-1]["content"]
        and "<rewrite>" not in m[-1]["content"]
        and "<instruction>" not in m[-1]["content"]
        for m, _ in backend.calls
    )


def test_output_files_and_resume_makes_no_calls(tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    first = evolkit.evolve(SEEDS, rounds=2, backend=FakeBackend.default(), output=out)
    assert out.exists() and (tmp_path / "data.jsonl.run.json").exists()
    report = json.loads((tmp_path / "data.jsonl.run.json").read_text())
    assert report["stats"]["rows"] == len(first)
    again_backend = FakeBackend.default()
    second = evolkit.evolve(SEEDS, rounds=2, backend=again_backend, output=out)
    assert again_backend.calls == []
    assert records(first) == records(second)
    # more rounds extend the finished run, reusing the first two
    third_backend = FakeBackend.default()
    third = evolkit.evolve(SEEDS, rounds=3, backend=third_backend, output=out)
    assert max(r.round for r in third) == 3
    assert 0 < len(third_backend.calls) < 3 * len(SEEDS) * 3


def test_changed_settings_refuse_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), output=out)
    with pytest.raises(ConfigError, match=r"different settings.*seed"):
        evolkit.evolve(SEEDS, rounds=1, seed=5, backend=FakeBackend.default(), output=out)
    evolkit.evolve(
        SEEDS, rounds=1, seed=5, backend=FakeBackend.default(), output=out, overwrite=True
    )


def test_cache_shared_across_runs(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    evolkit.evolve(
        SEEDS, rounds=1, backend=FakeBackend.default(), output=tmp_path / "a.jsonl", cache=cache
    )
    backend = FakeBackend.default()
    result = evolkit.evolve(
        SEEDS, rounds=1, backend=backend, output=tmp_path / "b.jsonl", cache=cache
    )
    assert backend.calls == [] and result.stats.cache_hits > 0


async def test_aevolve_and_evolve_inside_running_loop() -> None:
    result = await evolkit.aevolve(SEEDS[:2], rounds=1, backend=FakeBackend.default())
    assert len(result) >= 2
    # evolve() works when a loop is already running (as in Jupyter)
    again = evolkit.evolve(SEEDS[:2], rounds=1, backend=FakeBackend.default())
    assert records(again) == records(result)


def test_empty_seeds_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        evolkit.evolve([], rounds=1, backend=FakeBackend.default())


def test_bad_setting_is_a_clear_error() -> None:
    with pytest.raises(ConfigError):
        evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), concurrency=0)
    with pytest.raises(ConfigError, match="unknown evolve setting"):
        evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), colour="red")


def test_operator_weights_select_by_kind() -> None:
    result = evolkit.evolve(
        SEEDS, rounds=2, backend=FakeBackend.default(), operators={"breadth": 1}
    )
    assert {r.operator for r in result if not r.is_seed} == {"breadth.mutate"}


def test_lineage_and_html() -> None:
    result = evolkit.evolve(SEEDS[:1], rounds=3, backend=FakeBackend.default())
    last = max(result, key=lambda r: r.round)
    chain = result.lineage(last.id)
    assert [c.round for c in chain] == list(range(last.round + 1))
    assert "evolkit run" in result._repr_html_() and last.text[:20] in last._repr_html_()


def test_seed_response_failure_keeps_seed_and_lists_it() -> None:
    def reply(messages: Sequence[ChatMessage]) -> str | BaseException:
        if messages[-1]["content"] == "boom":
            return ModelError("bad request", kind="bad_request")
        return default_reply(messages)

    result = evolkit.evolve(["boom", "make tea"], rounds=0, backend=FakeBackend(reply))
    assert {r.text: r.response is None for r in result} == {"boom": True, "make tea": False}
    assert result.stats.seed_response_failures == 1
    assert [(d.stage, d.reason) for d in result.iter_drops()] == [
        ("respond_seed", "model_error:bad_request")
    ]


def test_backend_hints_fill_only_the_settings_left_open() -> None:
    from evolkit._protocols import BackendHints
    from evolkit.engine.config import EvolveConfig
    from evolkit.engine.plan import fit_to_backend

    class Slotted(FakeBackend):
        hints = BackendHints(parallel=4, timeout=600.0)

    fitted = fit_to_backend(EvolveConfig(), Slotted())
    assert (fitted.concurrency, fitted.timeout) == (4, 600.0)
    given = EvolveConfig(concurrency=9, timeout=5.0, hedge=False)
    assert fit_to_backend(given, Slotted()) == given
    plain = fit_to_backend(EvolveConfig(), FakeBackend())
    assert (plain.concurrency, plain.timeout) == (16, 120.0)


class _TwoSlots(FakeBackend):
    """A fake with two parallel slots that records the most calls it had in flight."""

    hints = BackendHints(parallel=2, timeout=300.0)

    def __init__(self) -> None:
        super().__init__(latency=0.01, record=False)
        self.now = self.peak = 0

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await super().complete(messages, **params)
        finally:
            self.now -= 1


@pytest.mark.parametrize("config", [None, EvolveConfig(), EvolveConfig(seed=0)])
def test_an_empty_config_takes_the_backend_hints_like_no_config(
    config: EvolveConfig | None,
) -> None:
    backend = _TwoSlots()
    seeds = [f"plan trip number {i}" for i in range(12)]
    evolkit.evolve(seeds, rounds=1, backend=backend, config=config)
    assert backend.peak == 2


def test_a_backend_the_engine_builds_is_closed_and_one_given_is_not(
    evolkit_plugin: Any,
) -> None:
    from evolkit import hookimpl
    from evolkit.plugins import BackendRegistry

    closed: list[str] = []

    class Closing(FakeBackend):
        async def aclose(self) -> None:
            closed.append(self.model)

    class Plugin:
        @hookimpl
        def evolkit_register_backends(self, registry: BackendRegistry) -> None:
            registry.add("closing", lambda model, params: Closing(model=model))

    evolkit_plugin(Plugin(), name="closing")
    evolkit.evolve(["make tea"], rounds=0, model="closing/a")
    assert closed == ["closing/a"]
    evolkit.evolve(["make tea"], rounds=0, backend=Closing(model="closing/b"))
    assert closed == ["closing/a"]
