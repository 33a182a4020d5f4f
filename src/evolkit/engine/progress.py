"""Progress of a run: a rich live display on a terminal or in Jupyter, plain log lines
otherwise, or nothing (``quiet``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from attrs import frozen

if TYPE_CHECKING:
    from evolkit.engine.batcher import BatchView

__all__ = [
    "BatchProgress",
    "LogProgress",
    "NullProgress",
    "Progress",
    "RichProgress",
    "Snapshot",
    "batch_line",
    "make_progress",
]


@frozen
class Snapshot:
    """Where a round stands."""

    round: int
    rounds: int
    done: int
    total: int
    kept: int
    dropped: int
    in_flight: int
    tokens: int
    cost: float
    calls: int


class Progress(Protocol):
    def start_round(self, round: int, rounds: int, total: int) -> None: ...
    def update(self, snapshot: Snapshot) -> None: ...
    def end_round(self, snapshot: Snapshot) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class BatchProgress(Protocol):
    """A display that also shows batch mode's provider batches."""

    def batches(self, views: Sequence[BatchView]) -> None:
        """Every batch of the run so far, each with its state, counts and age."""
        ...


def _age(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def batch_line(view: BatchView) -> str:
    """``batch b-1: in_progress, 120/200 answered, 3 failed, age 4m12s``."""
    return (
        f"batch {view.batch_id}: {view.status}, {view.completed}/{view.requests} answered, "
        f"{view.failed} failed, age {_age(view.age)}"
    )


class NullProgress:
    def start_round(self, round: int, rounds: int, total: int) -> None:
        pass

    def update(self, snapshot: Snapshot) -> None:
        pass

    def end_round(self, snapshot: Snapshot) -> None:
        pass

    def close(self) -> None:
        pass


def _line(s: Snapshot, elapsed: float) -> str:
    rate = s.done / elapsed if elapsed > 0 else 0.0  # evolutions per second
    eta = (s.total - s.done) / rate if rate > 0 else float("nan")
    eta_text = f"{eta:.0f}s" if eta == eta else "?"
    return (
        f"round {s.round}/{s.rounds}: {s.done}/{s.total} done, {s.kept} kept, "
        f"{s.dropped} dropped, {s.in_flight} in flight, {s.tokens} tokens, ${s.cost:.4f}, "
        f"{rate:.2f}/s, eta {eta_text}"
    )


class LogProgress:
    """A plain line every ``interval`` seconds and at the end of each round."""

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._started = time.monotonic()
        self._last = 0.0
        self._batch_lines: dict[str, str] = {}

    def start_round(self, round: int, rounds: int, total: int) -> None:
        self._started = time.monotonic()
        self._last = self._started

    def update(self, snapshot: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            print(_line(snapshot, now - self._started), file=self.stream, flush=True)

    def end_round(self, snapshot: Snapshot) -> None:
        print(_line(snapshot, time.monotonic() - self._started), file=self.stream, flush=True)

    def batches(self, views: Sequence[BatchView]) -> None:
        """A line for each batch whose state or counts changed."""
        for view in views:
            line = batch_line(view).rsplit(", age ", 1)[0]
            if self._batch_lines.get(view.batch_id) != line:
                self._batch_lines[view.batch_id] = line
                print(batch_line(view), file=self.stream, flush=True)

    def close(self) -> None:
        pass


# the fields of a :class:`Snapshot` the bar's text column shows beside the count
_BAR_FIELDS = ("kept", "dropped", "in_flight", "tokens", "cost")


class RichProgress:
    """A rich progress bar per round with kept/dropped, calls in flight, tokens and cost."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _RichProgress

        self._progress = _RichProgress(
            TextColumn("[bold]round {task.fields[round]}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[kept]} kept[/] [red]{task.fields[dropped]} dropped[/] "
                "{task.fields[in_flight]} in flight  {task.fields[tokens]} tok  "
                "${task.fields[cost]:.4f}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            refresh_per_second=4,
        )
        self._task: TaskID | None = None
        self._batch_lines: dict[str, str] = {}
        self._progress.start()

    def batches(self, views: Sequence[BatchView]) -> None:
        """A line above the bars for each batch whose state or counts changed."""
        for view in views:
            line = batch_line(view).rsplit(", age ", 1)[0]
            if self._batch_lines.get(view.batch_id) != line:
                self._batch_lines[view.batch_id] = line
                self._progress.console.print(batch_line(view))

    def start_round(self, round: int, rounds: int, total: int) -> None:
        empty: dict[str, Any] = dict.fromkeys(_BAR_FIELDS, 0)
        self._task = self._progress.add_task(
            "evolve", total=total, round=f"{round}/{rounds}", **empty
        )

    def update(self, snapshot: Snapshot) -> None:
        if self._task is not None:
            shown = {name: getattr(snapshot, name) for name in _BAR_FIELDS}
            self._progress.update(self._task, completed=snapshot.done, **shown)

    def end_round(self, snapshot: Snapshot) -> None:
        self.update(snapshot)

    def close(self) -> None:
        self._progress.stop()


def make_progress(mode: str = "auto") -> Progress:
    """``"rich"``, ``"log"``, ``"quiet"``, or ``"auto"``: rich on a terminal or in Jupyter,
    plain lines otherwise."""
    if mode == "quiet":
        return NullProgress()
    if mode == "log":
        return LogProgress()
    if mode == "rich":
        return RichProgress()
    from rich.console import Console

    console = Console(stderr=True)
    if console.is_terminal or console.is_jupyter:
        return RichProgress()
    return LogProgress()
