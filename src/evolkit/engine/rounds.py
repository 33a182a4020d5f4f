"""The rounds of one run: round 0 answers the seeds, each later round evolves the pool.

:class:`Rounds` writes each round's kept rows, the pool carried to the next round and the drops
to the work directory, drops duplicates (:mod:`evolkit.engine.dedupe`), counts everything and
reports progress; the evolution of each pool item happens in the executor
(:mod:`evolkit.engine.executor`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import attrs

from evolkit._types import Instruction
from evolkit.engine.controls import item_window
from evolkit.engine.executor import Executor
from evolkit.engine.ordered import ordered_map
from evolkit.engine.plan import RunPlan
from evolkit.engine.progress import Progress, Snapshot
from evolkit.engine.stats import Drop
from evolkit.engine.steps import Outcome, RoundContext
from evolkit.engine.workdir import WorkDir, read_jsonl
from evolkit.errors import ModelError
from evolkit.io import atomic_writer

__all__ = ["Rounds"]


def _line(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


class _Tally:
    """Items done, kept and dropped in the round under way."""

    def __init__(self) -> None:
        self.done = self.kept = self.dropped = self.failed = 0


class Rounds:
    """Runs the rounds of ``plan`` in ``workdir`` through ``ctx`` and ``executor``."""

    def __init__(
        self,
        plan: RunPlan,
        workdir: WorkDir,
        ctx: RoundContext,
        executor: Executor,
        progress: Progress,
    ) -> None:
        self.plan = plan
        self.wd = workdir
        self.ctx = ctx
        self.runner = ctx.runner
        self.stats = ctx.stats
        self.executor = executor
        self.progress = progress

    def snapshot(self, round: int, total: int, tally: _Tally) -> Snapshot:
        usage = self.stats.usage_per_round.get(round)
        return Snapshot(
            round=round,
            rounds=self.plan.config.rounds,
            done=tally.done,
            total=total,
            kept=tally.kept,
            dropped=tally.dropped,
            in_flight=self.runner.counters.in_flight,
            tokens=usage.total_tokens if usage else 0,
            cost=usage.cost if usage else 0.0,
            calls=self.runner.counters.sent,
        )

    def remember_kept(self, completed: int) -> None:
        """Mark every row kept in rounds 0..``completed`` as seen (a resumed run)."""
        for r in range(completed + 1):
            for inst in self.wd.instructions(self.wd.rows(r)):
                self.ctx.dedupe.remember(inst)

    async def _answer_seed(self, index: int, seed: Instruction) -> tuple[Instruction, Drop | None]:
        cfg = self.plan.config
        if not (cfg.respond and cfg.respond_seeds) or seed.response is not None:
            return seed, None
        try:
            response = await self.ctx.respond_to(seed, 0, "seed")
        except ModelError as exc:
            # A seed is never dropped: it stays, without a response, and the failure is listed
            # with the drops.
            return seed, Drop(
                0, seed.id, "seed", "respond_seed", "model", f"model_error:{exc.kind}"
            )
        if response is None:  # over max_reply_chars: calls.py
            return seed, Drop(0, seed.id, "seed", "respond_seed", "engine", "reply_too_long")
        return attrs.evolve(seed, response=response), None

    async def seed_round(self, total: int) -> None:
        """Round 0: the seeds, answered where they have no response yet."""
        tally = _Tally()
        self.progress.start_round(0, self.plan.config.rounds, total)
        with (
            atomic_writer(self.wd.rows(0)) as rows,
            atomic_writer(self.wd.pool(0)) as pool,
            atomic_writer(self.wd.drops(0)) as drops,
        ):
            window = item_window(self.plan.config)
            answered = ordered_map(self.wd.instructions(self.wd.seeds), self._answer_seed, window)
            async for seed, failure in answered:
                line = _line(seed.to_record())  # a seed is both a row and the next pool
                rows.write(line)
                pool.write(line)
                self.stats.keep(0, "")
                if failure is not None:
                    drops.write(_line(failure.to_record()))
                    self.stats.seed_response_failures += 1
                self.ctx.dedupe.remember(seed)
                tally.done += 1
                tally.kept += 1
                tally.failed += failure is not None and failure.reason.startswith("model_error:")
                self.runner.failures.check_round(0, tally.failed, tally.done)  # may stop the run
                self.progress.update(self.snapshot(0, total, tally))
            self.runner.failures.check_round(0, tally.failed, tally.done, final=True)
        self.progress.end_round(self.snapshot(0, total, tally))

    async def answer_failed_seeds(self, completed: int) -> int:
        """A resumed run: ask again for the seed answers an earlier run left failed (a model
        error, not a reply too long), and write them into round 0's rows and every committed
        pool. Returns how many are answered now."""
        cfg = self.plan.config
        path = self.wd.drops(0)
        if completed < 0 or not (cfg.respond and cfg.respond_seeds) or not path.exists():
            return 0
        drops = [Drop.from_record(r) for r in read_jsonl(path)]
        failed = {d.parent_id for d in drops if d.reason.startswith("model_error:")}
        if not failed:
            return 0
        todo = [s for s in self.wd.instructions(self.wd.rows(0)) if s.id in failed]
        answered: dict[str, Instruction] = {}
        again: dict[str, Drop] = {}
        async for seed, failure in ordered_map(todo, self._answer_seed, item_window(cfg)):
            if failure is None:
                answered[seed.id] = seed
            else:
                again[seed.id] = failure
        if answered:
            for target in [self.wd.rows(0), *(self.wd.pool(r) for r in range(completed + 1))]:
                self._replace_rows(target, answered)
            with atomic_writer(path) as fh:
                for drop in drops:
                    if drop.parent_id not in answered:
                        fh.write(_line(again.get(drop.parent_id, drop).to_record()))
            self.stats.seed_response_failures -= len(answered)
        return len(answered)

    def _replace_rows(self, path: Path, answered: dict[str, Instruction]) -> None:
        """Rewrite ``path`` with each seed of ``answered`` (by id) in place of its old row."""
        if not path.exists():
            return
        rows = list(self.wd.instructions(path))
        with atomic_writer(path) as fh:
            for row in rows:
                if row.id in answered and row.response is None:
                    row = answered[row.id]
                fh.write(_line(row.to_record()))

    async def evolve_round(self, round: int, total: int) -> None:
        """Round ``round``: every pool item evolved once; survivors kept, parents carried on."""
        tally = _Tally()
        self.progress.start_round(round, self.plan.config.rounds, total)
        with (
            atomic_writer(self.wd.rows(round)) as rows,
            atomic_writer(self.wd.pool(round)) as pool,
            atomic_writer(self.wd.drops(round)) as drops,
        ):
            pool_in = self.wd.instructions(self.wd.pool(round - 1))
            async for outcome in self.executor.outcomes(self.ctx, round, pool_in):
                self._record(outcome, tally, rows, pool, drops)
                self.runner.failures.check_round(round, tally.failed, tally.done)  # may stop
                self.progress.update(self.snapshot(round, total, tally))
            self.runner.failures.check_round(round, tally.failed, tally.done, final=True)
        self.ctx.dedupe.close_round()
        self.progress.end_round(self.snapshot(round, total, tally))

    def _record(
        self,
        outcome: Outcome,
        tally: _Tally,
        rows: IO[str],
        pool: IO[str],
        drops: IO[str],
    ) -> None:
        """Write one outcome: a kept child to the rows and pool, else the drop and the parent."""
        tally.done += 1
        child, drop = outcome.child, outcome.drop
        if child is not None and (dup := self.ctx.dedupe.admit(child, outcome.parent.id)):
            drop, child = dup, None
        if child is not None:
            line = _line(child.to_record())
            rows.write(line)
            pool.write(line)
            self.stats.keep(child.round, child.operator or "")
            tally.kept += 1
            return
        assert drop is not None
        drops.write(_line(drop.to_record()))
        pool.write(_line(outcome.parent.to_record()))
        self.stats.drop(drop)
        tally.dropped += 1
        tally.failed += drop.reason.startswith("model_error:")
