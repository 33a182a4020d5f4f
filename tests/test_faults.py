"""Runs against the fake server with injected faults complete without losing or repeating work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import evolkit
from evolkit._plugins import default_plugins
from evolkit.backends.litellm import LiteLLMBackend
from fakeserver import FakeServer, FaultPlan

SEEDS = [f"Describe step {i} of making bread by hand, with timings." for i in range(24)]

FAULTS = FaultPlan(
    rate_429=0.04,
    rate_500=0.04,
    rate_503=0.03,
    rate_timeout=0.02,
    rate_drop=0.03,
    rate_bad_json=0.02,
    rate_no_choices=0.02,
    retry_after=0.05,
    timeout_delay=2.0,
)


# Every default filter but the pool rule: ``near_duplicate`` makes a row's fate depend on the
# rows kept before it (when one fails, its near twin from another seed is kept instead), so a
# failure is no longer confined to its own lineage, by design.
PER_ROW_FILTERS = [n for n in default_plugins().filters().defaults() if n != "near_duplicate"]


def _run(url: str, **settings: Any) -> evolkit.RunResult:
    backend = LiteLLMBackend("openai/fake", {"api_base": url, "api_key": "test"})
    return evolkit.evolve(
        SEEDS,
        rounds=1,
        seed=11,
        backend=backend,
        concurrency=16,
        timeout=1.0,
        backoff=0.01,
        backoff_max=0.05,
        filters=PER_ROW_FILTERS,
        **settings,
    )


@pytest.fixture(scope="module")
def clean() -> evolkit.RunResult:
    with FakeServer(seed=1).run_in_thread() as server:
        return _run(server.url)


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[FakeServer]:
    with FakeServer(faults=FAULTS, seed=1).run_in_thread() as server:
        yield server


@pytest.mark.slow
def test_faults_with_retries_give_the_fault_free_result(
    clean: evolkit.RunResult, faulty_server: FakeServer
) -> None:
    faulty = _run(faulty_server.url, retries=8)
    stats = faulty_server.stats.snapshot()
    assert sum(stats.faults.values()) > 10, "the plan injected too few faults to mean anything"
    assert len(stats.faults) >= 5
    assert [r.to_record() for r in faulty] == [r.to_record() for r in clean]
    assert faulty.stats.retries > 0 and faulty.stats.call_failures == 0


@pytest.mark.slow
def test_failures_past_retries_drop_only_those_evolutions(
    clean: evolkit.RunResult, faulty_server: FakeServer
) -> None:
    faulty = _run(faulty_server.url, retries=0, max_failure_rate=1.0, breaker_calls=1000)
    failed = [d for d in faulty.iter_drops() if d.reason.startswith("model_error:")]
    assert failed, "with no retries some evolutions must fail"
    # A seed whose response failed stays in the pool (seeds are never dropped), so only the
    # failed evolutions name parents that must have no child.
    failed_parents = {d.parent_id for d in failed if d.stage != "respond_seed"}
    clean_rows = {r.id: r.to_record() for r in clean}
    faulty_rows = {r.id: r.to_record() for r in faulty}
    assert len(faulty_rows) == sum(1 for _ in faulty), "duplicate rows"
    # every row of the faulty run is a row of the clean run ...
    assert all(clean_rows.get(i) == row or row["round"] == 0 for i, row in faulty_rows.items())
    # ... and the rows missing are exactly the evolutions listed as failed (or filtered).
    missing = {row["parent_id"] for i, row in clean_rows.items() if i not in faulty_rows}
    assert missing <= failed_parents | {d.parent_id for d in faulty.iter_drops()}
    # an evolution whose own call failed leaves no row; a seed whose answer failed is still
    # evolved (that drop names the seed as its parent, and its evolution may be kept)
    failed_evolutions = {d.parent_id for d in failed if d.stage != "respond_seed"}
    assert failed_evolutions, "with no retries some evolution calls must fail"
    assert failed_evolutions.isdisjoint({r["parent_id"] for r in faulty_rows.values()})
