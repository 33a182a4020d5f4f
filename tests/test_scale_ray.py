"""RayExecutor: a run spread over Ray workers equals the single-process run with the same seed.

One private Ray instance on loopback (two logical CPUs, two workers) serves every test of the
module; the workers are reused from run to run.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")

import evolkit
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.engine.journal import Journal
from evolkit.scale import RayExecutor, RouterBackend, RouterConfig
from evolkit.testing.server import FakeServer

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


def test_a_worker_killed_mid_round_loses_nothing(
    tmp_path: Path, servers: tuple[FakeServer, FakeServer], executor: RayExecutor
) -> None:
    server = servers[0]
    # Workers rebuild this backend from its model string and parameters.
    backend = LiteLLMBackend("openai/fake", {"api_base": server.url, "api_key": "sk-fake"})
    single = evolkit.evolve(SEEDS, backend=backend, output=tmp_path / "one.jsonl", **SETTINGS)
    server.reset_stats()
    done_before = dict(executor.chunks_done)
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
        # Wait until the victim has finished a chunk of this run's first round, then kill it.
        while executor.chunks_done.get(victim, 0) <= done_before.get(victim, 0):
            assert not run.done(), "the run ended before the worker could be killed"
            await asyncio.sleep(0.01)
        pids = await asyncio.to_thread(executor.worker_pids)
        os.kill(pids[victim], signal.SIGKILL)
        in_flight = server.snapshot().in_flight
        return await run, in_flight

    spread, in_flight = asyncio.run(run_and_kill())
    _same_run(single, spread)
    assert executor.chunks_resent > resent_before
    # Only calls that were still in flight when the worker died went out again.
    stats = server.snapshot()
    sent_twice = sum(1 for n in stats.attempts.values() if n > 1)
    assert sent_twice <= executor.concurrency
    assert in_flight <= 2 * executor.concurrency
