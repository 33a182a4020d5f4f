"""A call's slot is freed only once its answer is journaled: a kill repeats at most
``concurrency`` paid calls on resume, however slow the disk is."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evolkit._types import ChatMessage, Completion
from evolkit.engine.calls import CallRunner
from evolkit.engine.journal import CallSite, Journal
from evolkit.testing import FakeBackend


class Ledger:
    """Answers the backend has given and answers the journal holds."""

    def __init__(self) -> None:
        self.answered = 0
        self.journaled = 0
        self.most_unjournaled = 0


class CountingBackend(FakeBackend):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__(record=False)
        self.ledger = ledger

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        completion = await super().complete(messages, **params)
        self.ledger.answered += 1
        gap = self.ledger.answered - self.ledger.journaled
        self.ledger.most_unjournaled = max(self.ledger.most_unjournaled, gap)
        return completion


class SlowDisk(Journal):
    """A journal whose commits take a while, as on a busy machine's disk."""

    def __init__(self, path: Path, ledger: Ledger) -> None:
        super().__init__(path)
        self.ledger = ledger

    async def append(self, key: str, completion: Completion) -> None:
        await asyncio.sleep(0.02)
        await super().append(key, completion)
        self.ledger.journaled += 1


async def test_answered_calls_not_yet_on_disk_never_exceed_the_concurrency(
    tmp_path: Path,
) -> None:
    ledger = Ledger()
    journal = SlowDisk(tmp_path / "journal.sqlite", ledger)
    runner = CallRunner(CountingBackend(ledger), journal, concurrency=3, hedge=False)
    try:
        await asyncio.gather(
            *(
                runner.call(
                    [{"role": "user", "content": f"Name fruit number {i}."}],
                    site=CallSite(round=0, parent=str(i), stage="seed"),
                )
                for i in range(40)
            )
        )
    finally:
        await journal.aclose()
    assert ledger.journaled == ledger.answered == 40
    assert ledger.most_unjournaled <= 3


class FailsOnce(Journal):
    """A journal whose first commit fails (a disk that filled up and was freed)."""

    failed = False

    def _commit(self, rows: list[tuple[str, str]]) -> None:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        super()._commit(rows)


async def test_a_failed_commit_fails_its_calls_only_and_leaves_no_unretrieved_error(
    tmp_path: Path,
) -> None:
    loop = asyncio.get_running_loop()
    logged: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: logged.append(context))
    journal = FailsOnce(tmp_path / "journal.sqlite")
    answer = Completion(text="fine")
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await journal.append("first", answer)
        await journal.append("second", answer)  # a new flush, after the failed one
    finally:
        await journal.aclose()
    gc.collect()
    await asyncio.sleep(0)
    assert [context.get("message") for context in logged] == []
    assert Journal(tmp_path / "journal.sqlite").keys() == ["second"]
