"""Batch mode against a loopback stand-in for OpenAI's files and batches endpoints."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from batch_standin import BatchStandIn
from evolkit.engine import aevolve

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


@pytest.fixture
async def server() -> AsyncIterator[BatchStandIn]:
    import litellm

    async with BatchStandIn() as s:
        yield s
    await litellm.close_litellm_async_clients()


def _params(server: BatchStandIn) -> dict[str, Any]:
    return {"api_base": server.url, "api_key": "test"}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def _run(server: BatchStandIn, out: Path, **settings: Any) -> Any:
    return await aevolve(
        SEEDS,
        rounds=2,
        model=MODEL,
        model_params=_params(server),
        output=out,
        seed=5,
        concurrency=4,
        **settings,
    )


async def test_batch_output_equals_online(server: BatchStandIn, tmp_path: Path) -> None:
    online = await _run(server, tmp_path / "online.jsonl")
    chat_requests = server.snapshot().requests
    batched = await _run(server, tmp_path / "batch.jsonl", batch=FAST)
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
    assert batched.stats.usage.cost == pytest.approx(online_cost / 2, rel=0.02)


async def test_batch_over_the_request_limit_is_split(server: BatchStandIn, tmp_path: Path) -> None:
    await aevolve(
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


async def test_expired_requests_and_only_those_are_resubmitted(
    tmp_path: Path,
) -> None:
    import litellm

    async with BatchStandIn(expire_every=2) as server:
        out = tmp_path / "o.jsonl"
        result = await _run(server, out, batch=FAST)
        reference = await _run(server, tmp_path / "online.jsonl")
    await litellm.close_litellm_async_clients()
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


def _command(seeds: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evolkit.cli",
        "evolve",
        str(seeds),
        "-o",
        str(out),
        "--model",
        MODEL,
        "--api-base",
        url,
        "--rounds",
        "1",
        "--seed",
        "5",
        "--cache",
        "off",
        "-q",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _batch_ids(out: Path) -> list[str]:
    path = out.with_name(out.name + ".evolkit") / "journal.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [
            r[0] for r in db.execute("SELECT batch_id FROM batch_jobs WHERE batch_id IS NOT NULL")
        ]
    except sqlite3.OperationalError:  # the table is not created yet
        return []
    finally:
        db.close()


@pytest.mark.slow
def test_killed_after_submission_restart_sends_no_new_batch_for_it(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    out = tmp_path / "batch.jsonl"
    flags = ("--batch", "--batch-poll", "0.05", "--batch-quiet", "0.1")
    server = BatchStandIn(hold=True)
    with server.run_in_thread():
        proc = subprocess.Popen(_command(seeds, out, server.url, *flags), env=_env())
        deadline = time.monotonic() + 90
        while not _batch_ids(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _batch_ids(out), "the run never journaled a batch id"
        time.sleep(0.3)  # polling the held batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        before = server.created()
        assert len(before) == 1 and len(before[0]) == len(SEEDS)  # the seeds' answers
        server.release()
        subprocess.run(
            _command(seeds, out, server.url, *flags), env=_env(), check=True, timeout=120
        )
        after = server.created()[len(before) :]
        online = tmp_path / "online.jsonl"
        subprocess.run(_command(seeds, online, server.url), env=_env(), check=True, timeout=120)
    assert after, "the restarted run went on to the next stages"
    submitted = set(before[0])
    assert not submitted & {key for keys in after for key in keys}
    assert _rows(out) == _rows(online)
