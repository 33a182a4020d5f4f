"""What runs inside one Ray worker: the engine's evolution step with its own runner and journal.

A worker rebuilds a :class:`RoundContext` from a :class:`WorkerSpec` (the backend is rebuilt
from its model string and parameters, or unpickled), evolves the chunks of a round's pool the
driver sends it, and returns each item's :class:`Outcome` together with the model calls it made
(so the driver can journal them and count their tokens).

Every finished call is also appended to this worker's own journal file
(``journal-w<N>.sqlite`` in the journal folder). A worker reads its siblings' files and the run's
main journal before each chunk, so a chunk that is moved to another worker after its first
worker died replays the calls the dead worker had finished instead of sending them again.
"""

from __future__ import annotations

import contextvars
import json
import os
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import Completion, Instruction
from evolkit.engine.cache import ResponseCache, scoped_cache
from evolkit.engine.calls import CallRunner
from evolkit.engine.journal import Journal
from evolkit.engine.plan import RunPlan
from evolkit.engine.stats import StatsBuilder
from evolkit.engine.steps import Outcome, RoundContext
from evolkit.engine.workdir import WorkDir

__all__ = ["ChunkResult", "ItemResult", "SharedJournal", "Worker", "WorkerSpec"]


@frozen(kw_only=True)
class WorkerSpec:
    """What a worker needs to evolve items exactly as the driver's engine would: the run's
    plan (as :meth:`RunPlan.for_workers` shares it out) and where to keep its journal file."""

    plan: RunPlan
    journal_dir: str


@frozen
class ItemResult:
    """One evolved pool item: its outcome and the calls it made (key, completion, operator)."""

    outcome: Outcome
    calls: tuple[tuple[str, Completion, int, str], ...]


@frozen
class ChunkResult:
    """A chunk's items, and the worker's call counters since its previous report."""

    items: tuple[ItemResult, ...]
    counters: Mapping[str, int]
    worker: int


class SharedJournal(Journal):
    """This worker's journal file, plus look-ups in its siblings' files and the main journal.

    Appends go to ``journal-<name>.sqlite`` in ``folder``; :meth:`get` also answers from every
    other ``journal-*.sqlite`` there and from ``main`` (found again by :meth:`refresh`).
    """

    def __init__(self, folder: Path, name: str, main: Path | None = None) -> None:
        super().__init__(folder / f"journal-{name}.sqlite")
        self.folder = folder
        self.main = main
        self._others: dict[Path, sqlite3.Connection] = {}
        self.refresh()

    def refresh(self) -> int:
        """Open the journals that appeared since the last refresh; return how many are open."""
        paths = sorted(self.folder.glob("journal-*.sqlite"))
        if self.main is not None and self.main.exists():
            paths.append(self.main)
        for path in paths:
            if path == self.path or path in self._others:
                continue
            try:
                db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                db.execute("SELECT 1 FROM calls LIMIT 1")
            except sqlite3.Error:
                continue  # not created yet, or not a journal
            self._others[path] = db
        return len(self._others)

    def get(self, key: str) -> Completion | None:
        found = super().get(key)
        if found is not None:
            return found
        for db in self._others.values():
            try:
                row = db.execute(
                    "SELECT completion FROM calls WHERE key = ? ORDER BY seq LIMIT 1", (key,)
                ).fetchone()
            except sqlite3.Error:
                continue
            if row:
                return Completion.from_json(json.loads(row[0]))
        return None

    async def aclose(self) -> None:
        for db in self._others.values():
            db.close()
        self._others.clear()
        await super().aclose()


_CALLS: contextvars.ContextVar[list[tuple[str, Completion, int, str]]] = contextvars.ContextVar(
    "evolkit_scale_calls"
)


def _record_call(key: str, completion: Completion, round: int, operator: str) -> None:
    """Record one of the current item's calls for the driver."""
    _CALLS.get().append((key, completion, round, operator))


def _journal_folder(requested: str) -> Path:
    """``requested`` if this node can write there, else a folder under the node's temp dir."""
    folder = Path(requested)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return folder
    except OSError:
        fallback = Path(tempfile.gettempdir()) / "evolkit-workers" / folder.parent.name
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _open_cache(path: Path | None) -> ResponseCache | None:
    """The run's response cache, or none when this node cannot open it."""
    if path is None:
        return None
    try:
        return ResponseCache(path)
    except (OSError, sqlite3.Error):
        return None


class Worker:
    """The body of one Ray actor (wrapped with ``ray.remote`` by the executor)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self._ctx: RoundContext | None = None
        self._journal: SharedJournal | None = None
        self._token: int | None = None
        self._seen_round = -1
        self._reported: dict[str, int] = {}
        self._lock: Any = None
        self._cache: ResponseCache | None = None

    def pid(self) -> int:
        """The worker's process id (tests kill it to check recovery)."""
        return os.getpid()

    def ping(self) -> int:
        return self.index

    def plan(self) -> RunPlan | None:
        """The plan of the run this worker last evolved for (tests compare it with the run's)."""
        return None if self._ctx is None else self._ctx.plan

    def warm(self) -> None:
        """Import the model client and the plugins ahead of the first chunk."""
        from evolkit._plugins import default_plugins
        from evolkit.backends._litellm_import import import_litellm

        import_litellm()
        default_plugins()

    async def _setup(self, token: int, spec_box: list[Any]) -> RoundContext:
        """The context for run ``token``, built from the spec in ``spec_box`` when it changes."""
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # chunks arrive together; only the first one builds
            return await self._build(token, spec_box)

    async def _build(self, token: int, spec_box: list[Any]) -> RoundContext:
        if self._ctx is not None and self._token == token:
            return self._ctx
        if self._journal is not None:
            await self._journal.aclose()
        if self._cache is not None:
            self._cache.close()
        spec = spec_box[0]
        if not isinstance(spec, WorkerSpec):
            spec = await spec  # an ObjectRef
        self._ctx, self._journal, self._token, self._seen_round = None, None, None, -1
        self._reported = {}
        plan = spec.plan
        backend = plan.backend.build()
        main = WorkDir(plan.workdir).journal
        self._journal = SharedJournal(_journal_folder(spec.journal_dir), f"w{self.index}", main)
        self._cache = _open_cache(plan.config.cache)
        runner = CallRunner.from_plan(
            plan, backend, self._journal, scoped_cache(self._cache, backend)
        )
        self._ctx = RoundContext(plan, runner, StatsBuilder(), on_call=_record_call)
        self._token = token
        return self._ctx

    async def run(
        self,
        token: int,
        spec_box: list[Any],
        round: int,
        seen: list[Any],
        items: Sequence[tuple[int, Instruction]],
    ) -> ChunkResult:
        """Evolve ``items`` (index, parent) in ``round`` of run ``token``.

        ``spec_box`` and ``seen`` each hold one object reference (boxed, so Ray passes the
        reference rather than the value): the run's :class:`WorkerSpec` and the ids kept in
        earlier rounds; the worker fetches each once per run and round.
        """
        import asyncio

        ctx = await self._setup(token, spec_box)
        assert self._journal is not None
        self._journal.refresh()
        if self._seen_round != round:
            import ray

            value = seen[0]
            ids = await value if isinstance(value, ray.ObjectRef) else value
            ctx.dedupe.seen_before = set(ids)
            self._seen_round = round

        async def one(index: int, parent: Instruction) -> ItemResult:
            calls: list[tuple[str, Completion, int, str]] = []
            _CALLS.set(calls)
            outcome = await ctx.evolve_one(index, parent, round)
            return ItemResult(outcome, tuple(calls))

        results = await asyncio.gather(*(one(i, p) for i, p in items))
        return ChunkResult(tuple(results), self._counter_delta(ctx.runner), self.index)

    def _counter_delta(self, runner: CallRunner) -> dict[str, int]:
        now = {
            name: int(getattr(runner.counters, name))
            for name in ("sent", "journal_hits", "cache_hits", "retries", "failures", "hedged")
        }
        delta = {k: v - self._reported.get(k, 0) for k, v in now.items()}
        self._reported = now
        return delta

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.aclose()
