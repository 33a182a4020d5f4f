"""Batch-mode scenarios, each run by tests/test_batch.py in a child process of its own.

A child process keeps the test session apart from litellm's batch calls, which run in worker
threads: under pytest's assertion rewriting on CPython 3.11.7 they left the interpreter's AST
recursion counter off, so that every later import of a rewritten module failed with "AST
constructor recursion depth mismatch". Each scenario raises AssertionError when it fails.

    python -c "import batch_scenarios as s; s.main('batch_output_equals_online', '/tmp/x')"
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path
from typing import Any

from batch_standin import BatchStandIn
from evolkit.engine import evolve

SEEDS = [
    "Explain why the sky is blue.",
    "Write a haiku about autumn rain.",
    "List three uses of a paperclip.",
    "Add 4, 8 and 15, showing each step.",
    "Describe how a bicycle gear works.",
    "Summarise the water cycle for a child.",
    "Plan a picnic for six people on a budget.",
    "Compare cats and dogs as pets.",
]
MODEL = "openai/gpt-4o-mini"
FAST = {"quiet": 0.05, "poll": 0.02, "poll_max": 0.05}
SCENARIOS = (
    "batch_output_equals_online",
    "batch_over_the_request_limit_is_split",
    "expired_requests_and_only_those_are_resubmitted",
    "restart_finds_a_batch_whose_id_was_never_recorded",
    "progress_shows_each_batch_state_counts_and_age",
    "max_cost_in_batch_mode_stops_before_the_budget_and_resumes",
    "a_refused_batch_stops_the_run_and_the_restart_starts_it_from_its_file",
)


def main(name: str, tmp: str) -> None:
    """Run scenario ``name`` in directory ``tmp`` (with a stand-in server if it takes one)."""
    scenario = globals()[name]
    if "server" in inspect.signature(scenario).parameters:
        with BatchStandIn().run_in_thread() as server:
            scenario(server, Path(tmp))
    else:
        scenario(Path(tmp))


def _params(server: BatchStandIn) -> dict[str, Any]:
    return {"api_base": server.url, "api_key": "test"}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(server: BatchStandIn, out: Path, **settings: Any) -> Any:
    return evolve(
        SEEDS,
        rounds=2,
        model=MODEL,
        model_params=_params(server),
        output=out,
        seed=5,
        concurrency=4,
        **settings,
    )


def batch_output_equals_online(server: BatchStandIn, tmp_path: Path) -> None:
    online = _run(server, tmp_path / "online.jsonl")
    chat_requests = server.snapshot().requests
    batched = _run(server, tmp_path / "batch.jsonl", batch=FAST)
    assert _rows(tmp_path / "batch.jsonl") == _rows(tmp_path / "online.jsonl")
    assert server.snapshot().requests == chat_requests  # nothing went to the chat endpoint
    sent = sum(len(keys) for keys in server.created())
    assert sent == batched.stats.calls_sent == online.stats.calls_sent
    # Stage by stage: the seeds' answers, then per round the rewrites, answers, judge calls.
    assert 3 <= len(server.created()) <= 1 + 2 * 3
    report = json.loads((tmp_path / "batch.jsonl.run.json").read_text())
    assert report["batch"]["requests"] == sent and report["batch"]["resubmitted_keys"] == 0
    online_cost = online.stats.usage.cost
    assert online_cost > 0
    assert batched.stats.usage.cost == _approx(online_cost / 2, 0.02)


def batch_over_the_request_limit_is_split(server: BatchStandIn, tmp_path: Path) -> None:
    evolve(
        SEEDS,
        rounds=0,
        model=MODEL,
        model_params=_params(server),
        output=tmp_path / "o.jsonl",
        batch={**FAST, "max_requests": 3},
    )
    created = server.created()
    assert sorted(len(keys) for keys in created) == [2, 3, 3]
    assert len({key for keys in created for key in keys}) == len(SEEDS)


def expired_requests_and_only_those_are_resubmitted(tmp_path: Path) -> None:
    with BatchStandIn(expire_every=2).run_in_thread() as server:
        out = tmp_path / "o.jsonl"
        result = _run(server, out, batch=FAST)
        reference = _run(server, tmp_path / "online.jsonl")
    created = server.created()
    first = created[0]
    assert len(server.expired) >= len(first) // 2
    expired_in_first = set(first[1::2])
    assert set(created[1]) == expired_in_first  # the next batch holds just the expired half
    times_sent = Counter(key for keys in created for key in keys)
    assert {k for k, n in times_sent.items() if n > 1} == set(server.expired)
    assert all(n <= 2 for n in times_sent.values())
    assert _rows(out) == _rows(tmp_path / "online.jsonl")
    assert result.stats.retries == len(server.expired)
    assert reference.stats.rows == result.stats.rows


def restart_finds_a_batch_whose_id_was_never_recorded(server: BatchStandIn, tmp_path: Path) -> None:
    import asyncio

    asyncio.run(_restart_finds(server, tmp_path))


async def _restart_finds(server: BatchStandIn, tmp_path: Path) -> None:
    import litellm

    from evolkit.backends._litellm_batch import LiteLLMBatchClient
    from evolkit.batch._types import BatchSettings
    from evolkit.engine.batch_store import BatchStore
    from evolkit.engine.batcher import Batcher
    from evolkit.engine.calls import CallCounters
    from evolkit.engine.journal import Journal

    client = LiteLLMBatchClient(MODEL, _params(server))
    journal = Journal(tmp_path / "journal.sqlite")
    store = BatchStore(journal.path)
    ask = [{"role": "user", "content": "Name a colour."}]
    started = await client.upload(client.request_line("started", ask, {}))
    await store.record_upload(started, ["started"], 1)
    await client.create(started, "24h")  # killed before its id was recorded
    unstarted = await client.upload(client.request_line("unstarted", ask, {"max_tokens": 5}))
    await store.record_upload(unstarted, ["unstarted"], 1)  # killed before the batch began
    assert len(server.created()) == 1
    batcher = Batcher(
        client, journal, store, BatchSettings(**FAST), retries=2, counters=CallCounters()
    )
    await batcher.start()
    answer = await batcher.complete("started", ask, {})
    late = await batcher.complete("unstarted", ask, {"max_tokens": 5})
    await batcher.aclose()
    assert [keys for keys in server.created()] == [["started"], ["unstarted"]]
    assert answer.text.startswith("Here is an answer to: Name a colour.")
    assert late.usage.completion_tokens == 5
    assert sorted(journal.keys()) == ["started", "unstarted"]
    assert store.open_jobs() == []
    store.close()
    await journal.aclose()
    await litellm.close_litellm_async_clients()


def progress_shows_each_batch_state_counts_and_age(server: BatchStandIn, tmp_path: Path) -> None:
    import io

    from evolkit.engine.progress import LogProgress

    stream = io.StringIO()
    evolve(
        SEEDS[:3],
        rounds=0,
        model=MODEL,
        model_params=_params(server),
        output=tmp_path / "o.jsonl",
        batch=FAST,
        progress=LogProgress(stream, interval=60),
    )
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("batch ")]
    assert lines[0].startswith("batch batch-0002: in_progress, 0/3 answered, 0 failed, age 0m0")
    assert lines[-1].startswith("batch batch-0002: completed, 3/3 answered, 0 failed, age 0m0")


def max_cost_in_batch_mode_stops_before_the_budget_and_resumes(
    server: BatchStandIn, tmp_path: Path
) -> None:
    import sqlite3

    from evolkit.cost import BudgetExhausted

    whole = _run(server, tmp_path / "whole.jsonl", batch=FAST)
    total = whole.stats.usage.cost
    capped = tmp_path / "capped.jsonl"
    try:
        _run(server, capped, batch=FAST, max_cost=total / 2)
    except BudgetExhausted as exc:
        assert "stopped before passing --max-cost" in str(exc)
    else:
        raise AssertionError("the capped run did not stop")
    db = sqlite3.connect(capped.with_name(capped.name + ".evolkit") / "journal.sqlite")
    spent = sum(json.loads(row[0])["cost"] for row in db.execute("SELECT completion FROM calls"))
    db.close()
    assert 0 < spent <= total / 2
    _run(server, capped, batch=FAST)
    assert _rows(capped) == _rows(tmp_path / "whole.jsonl")


def a_refused_batch_stops_the_run_and_the_restart_starts_it_from_its_file(
    server: BatchStandIn, tmp_path: Path
) -> None:
    from evolkit.errors import BackendError

    online = _run(server, tmp_path / "online.jsonl")
    server.refuse_batches = True
    out = tmp_path / "batch.jsonl"
    try:
        _run(server, out, batch=FAST)
    except BackendError as exc:
        assert "the provider's batch API failed: bad request" in str(exc), exc
    else:
        raise AssertionError("a refused batch did not stop the run")
    uploads = len(server.files)
    assert server.created() == []
    server.refuse_batches = False
    _run(server, out, batch=FAST)
    assert server.created()[0] == [
        json.loads(x)["custom_id"] for x in server.files["file-0001"].decode().splitlines()
    ]
    assert _rows(out) == _rows(tmp_path / "online.jsonl")
    assert online.stats.rows == len(_rows(out))
    assert uploads == 1


def _approx(expected: float, rel: float) -> Any:
    class Near:
        def __eq__(self, other: object) -> bool:
            return isinstance(other, float) and abs(other - expected) <= rel * abs(expected)

        def __repr__(self) -> str:
            return f"{expected} ± {rel:.0%}"

    return Near()
