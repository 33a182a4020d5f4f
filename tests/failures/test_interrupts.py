"""The signal handler of the command line (engine/interrupts.py), in this process: a signal
only asks; the run's tasks are cancelled and awaited before ``KeyboardInterrupt`` comes out."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from evolkit.engine._loop import run_sync
from evolkit.engine.interrupts import handle_interrupts


@pytest.fixture(autouse=True)
def own_handlers() -> Iterator[None]:
    """After a signal the command line keeps its handler (a late one ends the process): put
    this process's own handlers back after each test."""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_cancels_the_run_and_every_task_is_awaited(signum: int) -> None:
    finished: list[str] = []

    async def helper() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            finished.append("helper")

    async def run() -> None:
        task = asyncio.create_task(helper())
        try:
            await asyncio.sleep(0)
            os.kill(os.getpid(), signum)
            await asyncio.sleep(30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            finished.append("run")

    with handle_interrupts() as interrupts, pytest.raises(KeyboardInterrupt):
        run_sync(run())
    assert interrupts.signum == signum
    assert finished == ["helper", "run"]


def test_a_signal_after_the_last_step_still_ends_as_interrupted() -> None:
    async def run() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        return 1  # no await follows: the cancellation comes too late to land

    with handle_interrupts(), pytest.raises(KeyboardInterrupt):
        run_sync(run())


def test_a_signal_in_synchronous_code_raises_there() -> None:
    with handle_interrupts() as interrupts, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(5)
    assert interrupts.requested


def test_handlers_are_restored_when_no_signal_came() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with handle_interrupts():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
        assert run_sync(asyncio.sleep(0, result=7)) == 7
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_after_the_commands_last_block_a_signal_changes_nothing() -> None:
    # The `evolkit` command's own block: once it ended without a signal, a signal while the
    # interpreter exits is ignored (the autouse fixture puts this process's handlers back).
    with handle_interrupts(last=True):
        assert run_sync(asyncio.sleep(0, result=7)) == 7
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt here otherwise


def test_without_the_command_line_run_sync_is_asyncio_run() -> None:
    assert run_sync(asyncio.sleep(0, result="done")) == "done"
