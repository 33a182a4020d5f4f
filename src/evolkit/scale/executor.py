"""``RayExecutor``: spread each round's evolutions over Ray workers on one or many machines.

The driver (the process that calls :func:`evolkit.evolve`) cuts a round's pool into chunks and
sends them to long-lived Ray actors, a few chunks per actor at a time. Each actor runs the
engine's own step (:meth:`RoundContext.evolve_one`) with its own call runner and journal, and
returns each item's outcome with the model calls it made. The driver journals those calls in
the run's journal, adds their token use to the run's counts, and yields the outcomes in pool
order, so the engine writes exactly what a single-process run with the same seed writes.

A worker that dies mid-round loses nothing it finished: its chunks go to another worker, which
replays the dead worker's journal file (for a worker on the same machine or a shared folder) or
the calls it had already returned, and Ray restarts the dead actor (``max_restarts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

from evolkit._types import Instruction
from evolkit.engine.plan import BackendSource, RunPlan
from evolkit.engine.steps import Outcome, RoundContext
from evolkit.errors import ConfigError, EvolkitError, missing_extra
from evolkit.scale._dispatch import _Actor, _Chunk, _Dispatch
from evolkit.scale._worker import ChunkResult, Worker, WorkerSpec

__all__ = ["RayExecutor"]


#: Set before ray is first imported, this keeps a local Ray instance on loopback (127.0.0.1);
#: without it Ray binds its services to the machine's network address.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray(*, loopback: bool = False) -> Any:
    """Import ray, or explain how to install it.

    With ``loopback=True`` (a private local instance) and ray not imported yet, Ray's services
    are kept on 127.0.0.1.
    """
    if loopback and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as exc:
        raise missing_extra("ray", "ray", exc) from exc
    return ray


class RayExecutor:
    """Run each round's evolutions on ``workers`` Ray actors; pass it as ``executor=``.

    ``address`` is a Ray cluster address (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.5:6379"``)
    or ``None`` for a private local Ray instance on loopback (``num_cpus`` logical CPUs, no
    dashboard). ``concurrency`` is the model calls in flight *per worker*; ``chunk`` the pool items
    sent per request (default: ``concurrency``), with ``depth`` chunks queued per worker.

    Each worker runs the run's own :class:`~evolkit.engine.plan.RunPlan` (``concurrency`` calls
    in flight each, the rpm/tpm limits shared out). Workers build the backend from ``model``
    and ``model_params`` when given (do this for a backend that does not pickle), else from the
    run's model string when the run built its backend from one; a backend object the caller
    passed is sent to them pickled.

    ``journal_dir`` is where workers keep their journal files (default: the run's work dir;
    a worker on a machine that cannot write there uses its temp folder). ``max_restarts`` is how
    often Ray restarts a dead worker, ``chunk_retries`` how often one chunk is re-sent after its
    worker died before the run fails.

    Use it in a ``with`` block (or call :meth:`close`) to stop the workers; a Ray instance the
    executor started is shut down then too.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int = 2,
        *,
        concurrency: int = 16,
        chunk: int | None = None,
        depth: int = 2,
        model: str | None = None,
        model_params: Mapping[str, Any] | None = None,
        num_cpus: int | None = None,
        cpus_per_worker: float = 1.0,
        max_restarts: int = 3,
        chunk_retries: int = 3,
        journal_dir: str | os.PathLike[str] | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"RayExecutor needs at least one worker, got workers={workers}")
        if concurrency < 1 or depth < 1 or (chunk is not None and chunk < 1):
            raise ConfigError("RayExecutor concurrency, chunk and depth must be >= 1")
        self.address = address
        self.workers = workers
        self.concurrency = concurrency
        self.chunk = chunk or concurrency
        self.depth = depth
        self.model = model
        self.model_params = dict(model_params or {})
        self.num_cpus = num_cpus
        self.cpus_per_worker = cpus_per_worker
        self.max_restarts = max_restarts
        self.chunk_retries = chunk_retries
        self.journal_dir = None if journal_dir is None else str(journal_dir)
        self.init_options = dict(init_options or {})
        #: Chunks re-sent after their worker died, and workers replaced (for reports and tests).
        self.chunks_resent = 0
        self.workers_replaced = 0
        self._actors: list[_Actor] = []
        self._ctx: RoundContext | None = None
        self._started_ray = False
        self._next_index = 0
        self._token = 0
        self._spec_box: list[Any] = []
        #: Chunks finished per worker index.
        self.chunks_done: dict[int, int] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _init_ray(self) -> Any:
        ray = import_ray(loopback=self.address is None)
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None:
                options["address"] = "local"  # a new private instance, never someone else's
                options["num_cpus"] = self.num_cpus or max(
                    os.cpu_count() or 1, int(self.workers * self.cpus_per_worker + 0.999)
                )
            else:
                options["address"] = self.address
                options.pop("include_dashboard")
            options.update(self.init_options)
            ray.init(**options)
            self._started_ray = True
            from evolkit.engine.interrupts import reclaim_signals

            reclaim_signals()  # ray.init sets its own SIGTERM handler: a signal only asks to stop
        return ray

    def start(self) -> RayExecutor:
        """Start Ray (if needed) and the workers now, and let them import what they need.

        Optional: the first round starts them otherwise. Calling it before a run overlaps the
        workers' start-up with the run's first (seed) round.
        """
        ray = self._init_ray()
        if not self._actors:
            self._remote = ray.remote(Worker)
            for _ in range(self.workers):
                self._actors.append(self._new_actor())
        for actor in self._actors:
            actor.handle.warm.remote()
        return self

    def close(self) -> None:
        """Stop the workers (and the local Ray instance this executor started)."""
        if not self._actors and not self._started_ray:
            return
        ray = import_ray()
        self._kill_actors(ray)
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def _kill_actors(self, ray: Any) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor.handle, no_restart=True)
        self._actors = []
        self._ctx = None

    def worker_pids(self) -> dict[int, int]:
        """The process id of each live worker by worker index (empty before the first round)."""
        ray = import_ray()
        pids = ray.get([a.handle.pid.remote() for a in self._actors])
        return {a.index: int(pid) for a, pid in zip(self._actors, pids, strict=True)}

    # -- workers ------------------------------------------------------------------------------

    def _spec(self, ctx: RoundContext) -> WorkerSpec:
        """The run's plan as each worker runs it (see :meth:`RunPlan.for_workers`)."""
        plan = ctx.plan
        if self.model is not None:
            source = BackendSource(model=self.model, params=self.model_params)
        elif plan.backend.model is not None:
            # The engine built the backend from a model string: each worker builds its own.
            source = BackendSource(model=plan.backend.model, params=plan.backend.params)
        else:
            source = plan.backend
            ray = import_ray()
            try:
                ray.cloudpickle.dumps(source.instance)
            except Exception as exc:
                raise ConfigError(
                    f"the backend {source.instance!r} cannot be sent to Ray workers ({exc}): "
                    "pass RayExecutor(model=..., model_params=...) so workers build their own"
                ) from None
        folder = self.journal_dir or str(plan.workdir)
        return WorkerSpec(
            plan=plan.for_workers(self.workers, self.concurrency, source), journal_dir=folder
        )

    def worker_plans(self) -> dict[int, RunPlan | None]:
        """The plan each live worker last ran, by worker index (for checks and tests)."""
        ray = import_ray()
        plans = ray.get([a.handle.plan.remote() for a in self._actors])
        return {a.index: plan for a, plan in zip(self._actors, plans, strict=True)}

    def _start(self, ctx: RoundContext) -> Any:
        ray = self._init_ray()
        if self._ctx is not ctx:
            # A new run: the same workers, with this run's spec (sent once to each worker).
            self._spec_box = [ray.put(self._spec(ctx))]
            self._token += 1
            self._ctx = ctx
        if not self._actors:
            self.start()
        return ray

    def _new_actor(self) -> _Actor:
        index = self._next_index
        self._next_index += 1
        handle = self._remote.options(
            num_cpus=self.cpus_per_worker,
            max_restarts=self.max_restarts,
            max_task_retries=0,
            max_concurrency=max(64, self.depth * 4),
            scheduling_strategy="SPREAD",
        ).remote(index)
        return _Actor(handle, index)

    # -- the executor protocol ----------------------------------------------------------------

    def outcomes(
        self, ctx: RoundContext, round: int, pool: Iterator[Instruction]
    ) -> AsyncIterator[Outcome]:
        """The outcome of each pool item, in pool order, evolved on the Ray workers."""
        return self._outcomes(ctx, round, pool)

    async def _outcomes(
        self, ctx: RoundContext, round: int, pool: Iterator[Instruction]
    ) -> AsyncIterator[Outcome]:
        ray = self._start(ctx)
        state = _Dispatch(self, ray, ctx, round, pool)
        try:
            while True:
                state.fill()
                while state.next_index in state.ready:
                    yield state.take()
                if not state.running and not state.pings:
                    if state.exhausted and not state.waiting:
                        break
                    if not any(a.usable for a in self._actors):
                        raise EvolkitError("every Ray worker of the run is gone")
                    continue
                done, _ = await asyncio.wait(
                    [*state.running, *state.pings], return_when=asyncio.FIRST_COMPLETED
                )
                for future in done:
                    await state.settle(future)
        finally:
            for future in [*state.running, *state.pings]:
                future.cancel()

    def _lost(
        self,
        ray: Any,
        chunk: _Chunk,
        exc: BaseException,
        pings: dict[asyncio.Future[Any], _Actor],
    ) -> None:
        """A chunk's worker died: queue the chunk again and watch the worker come back."""
        if chunk.attempts > self.chunk_retries:
            raise EvolkitError(
                f"a chunk of {len(chunk.items)} items failed on {chunk.attempts} Ray workers "
                f"(last error: {type(exc).__name__}: {exc}); raise chunk_retries or check "
                "the workers' logs"
            ) from exc
        self.chunks_resent += 1
        actor = chunk.actor
        if actor is not None and actor.usable:
            actor.usable = False
            ref = actor.handle.ping.remote()
            pings[asyncio.wrap_future(ref.future())] = actor

    def _pinged(self, ray: Any, actor: _Actor, future: asyncio.Future[Any]) -> None:
        """A worker answered (it restarted) or is gone for good (replace it)."""
        try:
            future.result()
        except Exception:
            self._actors.remove(actor)
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor.handle, no_restart=True)
            self._actors.append(self._new_actor())
            self.workers_replaced += 1
            return
        actor.usable = True

    async def _absorb(self, ctx: RoundContext, result: ChunkResult) -> None:
        """Journal the chunk's calls in the run's journal and count what the worker did."""
        journal = ctx.runner.journal
        fresh = {}
        for item in result.items:
            for key, completion, _, _ in item.calls:
                if journal.get(key) is None:
                    fresh[key] = completion
        if fresh:
            await asyncio.gather(*(journal.append(k, c) for k, c in fresh.items()))
        counters = ctx.runner.counters
        for name, value in result.counters.items():
            setattr(counters, name, getattr(counters, name) + value)
