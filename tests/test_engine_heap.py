"""A run keeps the garbage collector off the objects that existed before it started."""

from __future__ import annotations

import gc

import evolkit
from evolkit._types import ChatMessage
from evolkit.engine._heap import frozen_heap
from evolkit.testing import FakeBackend, default_reply


def test_run_freezes_the_heap_it_found_and_unfreezes_it_after() -> None:
    assert gc.get_freeze_count() == 0
    seen: list[int] = []

    def reply(messages: list[ChatMessage]) -> str:
        seen.append(gc.get_freeze_count())
        return default_reply(messages)

    result = evolkit.evolve(["Explain how tides work."], rounds=1, backend=FakeBackend(reply))
    assert result.stats.calls_sent > 0
    assert seen and min(seen) > 0
    assert gc.get_freeze_count() == 0


def test_nested_runs_unfreeze_only_when_the_last_ends() -> None:
    with frozen_heap():
        with frozen_heap():
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
