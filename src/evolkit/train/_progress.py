"""Trainer callbacks: tokens per second in the logs, and a progress display.

Imported only from inside :func:`evolkit.train.train` (it imports transformers).
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

__all__ = ["ProgressDisplay", "TokensPerSecond"]


class _LossLogs(TrainerCallback):  # type: ignore[misc, unused-ignore]
    """A callback that reads only the logs with a training loss in them."""

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs and "loss" in logs:
            self.on_loss_log(args, state, logs)

    def on_loss_log(
        self, args: TrainingArguments, state: TrainerState, logs: dict[str, Any]
    ) -> None:
        """``logs`` has a training loss; a subclass reads it or adds to it."""


class TokensPerSecond(_LossLogs):
    """Adds ``tokens_per_second`` (per process, i.e. per GPU) to every log.

    Counts the non-padding tokens the trainer saw (``state.num_input_tokens_seen``, summed
    over all processes) between two logs and divides by the wall time and the number of
    processes.
    """

    def __init__(self) -> None:
        self._time = 0.0
        self._tokens = 0
        self.last = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._time = time.perf_counter()
        self._tokens = state.num_input_tokens_seen

    def on_loss_log(
        self, args: TrainingArguments, state: TrainerState, logs: dict[str, Any]
    ) -> None:
        now = time.perf_counter()
        seen = state.num_input_tokens_seen
        elapsed = now - self._time
        if elapsed > 0 and seen > self._tokens:
            self.last = (seen - self._tokens) / elapsed / max(1, args.world_size)
            logs["tokens_per_second"] = round(self.last, 1)
        self._time, self._tokens = now, seen


class ProgressDisplay(_LossLogs):
    """A rich progress bar with the step, the loss and tokens per second per GPU.

    Shown by the main process only; replaces the trainer's tqdm bar.
    """

    def __init__(self, rate: TokensPerSecond) -> None:
        self._rate = rate
        self._progress: Any = None
        self._task: Any = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} tok/s/GPU"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, loss="-", rate="-"
        )
        self._progress.start()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_loss_log(
        self, args: TrainingArguments, state: TrainerState, logs: dict[str, Any]
    ) -> None:
        if self._progress is None:
            return
        rate = self._rate.last
        shown = f"{rate / 1000:.1f}k" if rate >= 1000 else f"{rate:.0f}"
        self._progress.update(self._task, loss=f"{float(logs['loss']):.4f}", rate=shown)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
            self._progress.stop()
            self._progress = None
