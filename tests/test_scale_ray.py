"""RayExecutor: a run spread over Ray workers equals the single-process run with the same seed.

One private Ray instance on loopback (two logical CPUs, two workers) serves every test of the
module; the workers are reused from run to run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

pytest.importorskip("ray")

import evolkit
from evolkit import ChatMessage, EvolveConfig
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.engine.journal import Journal
from evolkit.scale import RayExecutor, RouterBackend, RouterConfig
from evolkit.testing import default_reply
from fakeserver import FakeServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

SEEDS = [
    f"Describe how a lighthouse keeper on island {i} would plan a storm night." for i in range(16)
]
SETTINGS = {"rounds": 2, "seed": 11, "concurrency": 8}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    first = FakeServer(latency=0.05)
    second = FakeServer(latency=0.05)
    with first.run_in_thread() as a, second.run_in_thread() as b:
        yield a, b


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    with RayExecutor(workers=2, concurrency=4, chunk=2, num_cpus=2) as ex:
        yield ex.start()


def _router(a: FakeServer, b: FakeServer) -> RouterBackend:
    deployment = {"model": "openai/fake", "api_key": "sk-fake"}
    return RouterBackend(
        RouterConfig(
            model_list=[
                {"model_name": "evolver", "litellm_params": {**deployment, "api_base": a.url}},
                {"model_name": "evolver", "litellm_params": {**deployment, "api_base": b.url}},
            ]
        )
    )


def _keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT key FROM calls")}
    except sqlite3.Error:
        return set()
    finally:
        db.close()


def _unreturned(worker_journal: Path, workdir: Path) -> int:
    """Calls in a worker's journal that the driver has not journaled yet."""
    return len(_keys(worker_journal) - _keys(workdir / "journal.sqlite"))


def _same_run(one: evolkit.RunResult, other: evolkit.RunResult) -> None:
    assert one.output is not None and other.output is not None
    assert one.output.read_bytes() == other.output.read_bytes()
    assert one.stats.rows_per_round == other.stats.rows_per_round
    assert one.stats.drop_reasons == other.stats.drop_reasons
    assert one.stats.kept_per_operator == other.stats.kept_per_operator
    assert one.stats.usage_per_round == other.stats.usage_per_round


def test_two_workers_over_two_servers_equal_one_process(
    tmp_path: Path, servers: tuple[FakeServer, FakeServer], executor: RayExecutor
) -> None:
    a, b = servers
    backend = _router(a, b)
    single = evolkit.evolve(SEEDS, backend=backend, output=tmp_path / "one.jsonl", **SETTINGS)
    a.reset_stats()
    b.reset_stats()
    spread = evolkit.evolve(
        SEEDS, backend=backend, output=tmp_path / "ray.jsonl", executor=executor, **SETTINGS
    )
    _same_run(single, spread)
    assert spread.stats.rows > len(SEEDS)
    # Both workers evolved chunks, and the Router spread their calls over both servers.
    assert len(executor.chunks_done) == 2
    first, second = a.snapshot(), b.snapshot()
    assert first.requests > 0 and second.requests > 0
    assert first.requests + second.requests == spread.stats.calls_sent
    # Every call the workers made is in the run's journal, so a resume sends nothing again.
    journal = Journal(tmp_path / "ray.jsonl.evolkit" / "journal.sqlite")
    try:
        assert len(journal) == spread.stats.calls_sent
    finally:
        asyncio.run(journal.aclose())


def test_lean_backend_travels_to_the_workers(
    tmp_path: Path, servers: tuple[FakeServer, FakeServer], executor: RayExecutor
) -> None:
    from evolkit.backends.openai_compat import OpenAICompatBackend

    server = servers[1]
    backend = OpenAICompatBackend("openai-compatible/fake", {"api_base": server.url})
    single = evolkit.evolve(SEEDS, backend=backend, output=tmp_path / "one.jsonl", **SETTINGS)
    server.reset_stats()
    spread = evolkit.evolve(
        SEEDS, backend=backend, output=tmp_path / "ray.jsonl", executor=executor, **SETTINGS
    )
    _same_run(single, spread)
    assert server.snapshot().requests == spread.stats.calls_sent > 0


def test_a_worker_killed_mid_round_loses_nothing(
    tmp_path: Path, servers: tuple[FakeServer, FakeServer], executor: RayExecutor
) -> None:
    server = servers[0]
    # Workers rebuild this backend from its model string and parameters.
    backend = LiteLLMBackend("openai/fake", {"api_base": server.url, "api_key": "sk-fake"})
    single = evolkit.evolve(SEEDS, backend=backend, output=tmp_path / "one.jsonl", **SETTINGS)
    server.reset_stats()
    resent_before = executor.chunks_resent

    async def run_and_kill() -> tuple[evolkit.RunResult, int]:
        run = asyncio.ensure_future(
            evolkit.aevolve(
                SEEDS,
                backend=backend,
                output=tmp_path / "ray.jsonl",
                executor=executor,
                **SETTINGS,
            )
        )
        victim = min(a.index for a in executor._actors)
        pids = await asyncio.to_thread(executor.worker_pids)
        # Wait until the victim has finished calls it has not returned yet (calls of items still
        # in progress), then kill it: the worker that takes its chunks must replay them.
        workdir = tmp_path / "ray.jsonl.evolkit"
        while True:
            assert not run.done(), "the run ended before the worker could be killed"
            unreturned = _unreturned(workdir / f"journal-w{victim}.sqlite", workdir)
            if unreturned >= 3:
                break
            await asyncio.sleep(0.005)
        os.kill(pids[victim], signal.SIGKILL)
        return await run, unreturned

    spread, unreturned = asyncio.run(run_and_kill())
    _same_run(single, spread)
    assert executor.chunks_resent > resent_before
    # The calls the dead worker had finished but not returned were replayed from its journal
    # by the worker that took over its chunks, not sent again; only calls still in flight
    # when it died (at most its concurrency) went out twice.
    # (A run may also hit its journal by itself: a parent whose child was dropped as a near
    # duplicate can send the same request again in the next round.)
    replayed = spread.stats.journal_hits - single.stats.journal_hits
    assert replayed >= 1, f"{unreturned} finished calls were not replayed"
    stats = server.snapshot()
    sent_twice = sum(1 for n in stats.attempts.values() if n > 1)
    assert sent_twice <= executor.concurrency


def _every_setting_changed(tmp_path: Path) -> EvolveConfig:
    """A config with every field away from its default (a new field must be added here)."""
    changed = {
        "rounds": 1,
        "seed": 23,
        "concurrency": 6,
        "operators": {"depth": 2.0, "breadth": 1.0},
        "filters": ("refusal", "template_leak"),
        "respond": True,
        "respond_seeds": False,
        "respond_system": "End every answer with the word LIGHTHOUSE.",
        "mutate_params": {"temperature": 0.3, "max_tokens": 300},
        "respond_params": {"temperature": 0.2, "max_tokens": 400},
        "retries": 2,
        "timeout": 77.0,
        "backoff": 0.01,
        "backoff_max": 0.05,
        "rpm": 100_000.0,
        "tpm": 10_000_000.0,
        "cache": tmp_path / "cache.sqlite",
        "max_failure_rate": 0.9,
        "breaker_calls": 50,
        "strict": True,
        "max_reply_chars": 90_000,
        "max_instruction_chars": 40_000,
        "duplicate_ids": "drop",
        "hedge": False,
        "structured": "on",
    }
    fields = attrs.fields(EvolveConfig)
    # Batch mode and the budget work on one process's calls and are refused with workers
    # (tests/test_batch.py checks the refusal); every other field must reach the workers.
    process_only = {"batch", "max_cost"}
    assert set(changed) | process_only == {f.name for f in fields}, (
        "a new EvolveConfig field needs a value here"
    )
    config = EvolveConfig(**changed)
    defaults = EvolveConfig(respond=False)  # respond's default is True: compared apart
    for f in fields:
        if f.name not in {"respond", *process_only}:
            assert getattr(config, f.name) != getattr(defaults, f.name), f.name
    return config


def test_every_setting_reaches_the_workers(tmp_path: Path, executor: RayExecutor) -> None:
    systems: list[str | None] = []

    def handler(messages: list[ChatMessage]) -> str:
        systems.append(next((m["content"] for m in messages if m["role"] == "system"), None))
        return default_reply(messages)

    config = _every_setting_changed(tmp_path)
    with FakeServer(handler=handler).run_in_thread() as server:
        backend = LiteLLMBackend("openai/fake", {"api_base": server.url, "api_key": "sk-fake"})
        result = evolkit.evolve(
            SEEDS[:6],
            backend=backend,
            config=config,
            output=tmp_path / "o.jsonl",
            executor=executor,
        )
    assert result.stats.rows_per_round[1] > 0
    share = attrs.evolve(
        config, concurrency=executor.concurrency, rpm=config.rpm / 2, tpm=config.tpm / 2
    )
    plans = executor.worker_plans()
    assert len(plans) == executor.workers
    for plan in plans.values():
        assert plan is not None
        for f in attrs.fields(EvolveConfig):
            assert getattr(plan.config, f.name) == getattr(share, f.name), f.name
        assert {m.kind for m, _ in plan.mutators} == {"depth", "breadth"}
        assert [f.name for f in plan.filters] == ["refusal", "template_leak"]
        assert plan.model == "openai/fake"
    # The response requests the workers sent carried the run's system prompt (they once did
    # not: the workers' settings were re-listed by hand and this one was left out).
    assert config.respond_system in systems
