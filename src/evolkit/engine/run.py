"""``evolve`` and ``aevolve``: seeds in, an evolved, filtered, shuffled data set out."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from evolkit._plugins import Plugins, default_plugins
from evolkit._protocols import Backend, ClosableBackend, LoopBoundBackend
from evolkit._types import Instruction
from evolkit._version import __version__
from evolkit.data.sources import SeedSource, open_seeds, remove_if_refused
from evolkit.engine._heap import frozen_heap
from evolkit.engine._loop import run_sync
from evolkit.engine.cache import scoped_cache
from evolkit.engine.calls import CallRunner, open_stores
from evolkit.engine.config import EvolveConfig
from evolkit.engine.controls import attach_cost_controls, cost_report, item_window
from evolkit.engine.duplicates import SeedDeduper
from evolkit.engine.executor import Executor, LocalExecutor
from evolkit.engine.failures import RunAborted
from evolkit.engine.lock import writing
from evolkit.engine.plan import (
    BackendSource,
    RunPlan,
    fit_to_backend,
    select_filters,
    select_mutators,
)
from evolkit.engine.preflight import (
    check_output,
    check_size,
    refuse_output_over_input,
)
from evolkit.engine.progress import Progress, make_progress
from evolkit.engine.result import RunResult
from evolkit.engine.resume import finished_result, run_id, write_report
from evolkit.engine.rounds import Rounds
from evolkit.engine.stats import StatsBuilder
from evolkit.engine.steps import RoundContext
from evolkit.engine.workdir import WorkDir, summary_path
from evolkit.errors import ConfigError
from evolkit.io import atomic_writer

__all__ = ["aevolve", "evolve", "select_filters", "select_mutators"]

#: A path, ``hf://OWNER/NAME[:CONFIG][@SPLIT]``, or instructions, strings, dicts, a DataFrame,
#: a ``datasets.Dataset`` or ``IterableDataset``.
Seeds = Iterable[Any] | str | os.PathLike[str]
STATE_VERSION = 1


def _seed_stream(seeds: Seeds | SeedSource) -> Iterator[Instruction]:
    yield from open_seeds(seeds)


@frozen
class _SeedsWritten:
    digest: str
    count: int
    duplicates: int


def _write_seeds(
    seeds: Seeds | SeedSource, path: Path, cfg: EvolveConfig | None = None, label: str = "seeds"
) -> _SeedsWritten:
    """Copy the seeds (duplicates removed) to ``path``; their digest, count and duplicates."""
    cfg = cfg if cfg is not None else EvolveConfig()
    digest = hashlib.sha256()
    seen: set[str] = set()
    dedupe = SeedDeduper(cfg.duplicate_ids, label)  # duplicates.py
    with atomic_writer(path) as fh:
        for row, given in enumerate(_seed_stream(seeds), start=1):
            check_size(label, row, given, cfg.max_instruction_chars)  # preflight.py
            inst = dedupe.admit(row, given)
            if inst is None:
                continue
            seen.add(inst.id)
            seed = attrs.evolve(inst, parent_id=None, operator=None, round=0)
            line = json.dumps(seed.to_record(), ensure_ascii=False)
            digest.update(line.encode("utf-8"))
            fh.write(line + "\n")
        dedupe.finish()
    if not seen:
        raise ConfigError("no seed instructions: the seed input is empty")
    return _SeedsWritten(digest.hexdigest(), len(seen), dedupe.dropped)


def _build_config(config: EvolveConfig | None, settings: Mapping[str, Any]) -> EvolveConfig:
    base = config if config is not None else EvolveConfig()
    try:
        return attrs.evolve(base, **{k: v for k, v in settings.items() if v is not None})
    except TypeError as exc:
        raise ConfigError(f"unknown evolve setting: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# -- the stages of a run ----------------------------------------------------------------------


def _prepare_workdir(
    stack: contextlib.AsyncExitStack[Any], output: str | os.PathLike[str] | None
) -> tuple[WorkDir, Path | None]:
    """The run's work directory (``OUT.evolkit/``, or a temporary one) and its output path."""
    if output is None:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evolkit-"))
        wd, out_path = WorkDir.in_folder(Path(tmp)), None
    else:
        out_path = Path(output)
        wd = WorkDir.for_output(out_path)
    return wd, out_path


def _take_seeds(
    wd: WorkDir,
    seeds: Seeds,
    fields: Mapping[str, str] | Iterable[str] | None,
    layout: str | None,
    progress: str | Progress,
    cfg: EvolveConfig | None = None,
) -> tuple[SeedSource, _SeedsWritten]:
    """Open the seeds in their layout and copy them into the work directory (which is removed
    again when the seeds are refused and the run made it)."""
    source = open_seeds(seeds, fields=fields, layout=layout)
    with remove_if_refused(wd.path):
        wd.ensure()
        label = str(seeds) if isinstance(seeds, (str, os.PathLike)) else "seeds"
        written = _write_seeds(source, wd.next_seeds, cfg, label)
    if progress != "quiet":
        print(source.describe(), file=sys.stderr, flush=True)
    return source, written


async def _open_backend(
    stack: contextlib.AsyncExitStack[Any],
    plugins: Plugins,
    backend: Backend | None,
    model: str | None,
    params: Mapping[str, Any] | None,
) -> tuple[Backend, BackendSource]:
    """The run's backend and how it was reached. A backend the engine builds from a model
    string (or the default model) is entered (an async context manager: a local model's
    server starts here, once) or else closed (:class:`ClosableBackend`) when the run ends; one
    the caller passed is the caller's to close."""
    if backend is not None:
        _release_at_end(stack, backend)
        return backend, BackendSource(instance=backend)
    if model is None:
        from evolkit.backends.default import resolve_model

        model, _ = resolve_model(None)
    source = BackendSource(model=model, params=params or {})
    built = source.build(plugins)
    if isinstance(built, contextlib.AbstractAsyncContextManager):
        pass  # entered by _start_backend, once the run is known to need it
    elif isinstance(built, ClosableBackend):
        stack.push_async_callback(built.aclose)
    _release_at_end(stack, built)
    return built, attrs.evolve(source, instance=built)


async def _start_backend(
    stack: contextlib.AsyncExitStack[Any], backend: Backend, built_here: bool
) -> None:
    """Enter a backend the engine built (a local model's server starts here, once); called
    after the finished-run check, so a finished run loads no model (resume.py)."""
    if built_here and isinstance(backend, contextlib.AbstractAsyncContextManager):
        await stack.enter_async_context(backend)


def _release_at_end(stack: contextlib.AsyncExitStack[Any], backend: Backend) -> None:
    """Close the connections ``backend`` opened on this run's event loop when the run ends."""
    if isinstance(backend, LoopBoundBackend):
        stack.push_async_callback(backend.release_connections)


@frozen
class _Restored:
    """What a resumed run starts from: rounds already done, their counts and time spent."""

    completed: int
    stats: StatsBuilder
    elapsed: float


def _restore_state(
    wd: WorkDir,
    state: Mapping[str, Any] | None,
    fingerprint: Mapping[str, Any],
    overwrite: bool,
    rounds: int,
) -> _Restored:
    """Check a previous run in ``wd`` (its ``state``) against this one and pick up where it
    stopped (or, with ``overwrite``, discard it); then make this run's seeds the work
    directory's seeds."""
    if state is not None and (
        overwrite
        or state.get("version") != STATE_VERSION
        or _fp_cmp(state["fingerprint"]) != _fp_cmp(fingerprint)
    ):
        if not overwrite:
            before = state.get("fingerprint", {})
            changed = sorted(
                k
                for k in set(fingerprint) | set(before)
                if k != "rounds" and before.get(k) != fingerprint.get(k)
            )
            raise ConfigError(
                f"{wd.path} holds a run with different settings ({', '.join(changed)}): "
                "resume with the same settings, or pass --overwrite / a new output path"
            )
        wd.clear(keep={wd.next_seeds.name})
        state = None
    os.replace(wd.next_seeds, wd.seeds)
    if state is None:
        return _Restored(-1, StatsBuilder(), 0.0)
    return _Restored(
        min(int(state["completed_round"]), rounds),
        StatsBuilder.restore(state["stats"]),
        float(state["stats"].get("elapsed_s", 0.0)),
    )


async def _open_rounds(
    stack: contextlib.AsyncExitStack[Any],
    plan: RunPlan,
    backend: Backend,
    wd: WorkDir,
    stats: StatsBuilder,
    progress: str | Progress,
    executor: Executor | None,
) -> Rounds:
    """The journal, cache, call runner (with batch mode and the budget where asked for), round
    context and progress display of the run."""
    journal, cache = open_stores(stack, wd.journal, plan.config.cache)
    runner = CallRunner.from_plan(plan, backend, journal, scoped_cache(cache, backend))
    ctx = RoundContext(plan, runner, stats)
    reporter = make_progress(progress) if isinstance(progress, str) else progress
    stack.callback(reporter.close)
    await attach_cost_controls(plan.config, backend, runner, reporter, stack, executor)
    chosen = executor if executor is not None else LocalExecutor(item_window(plan.config))
    return Rounds(plan, wd, ctx, chosen, reporter)


class _Checkpoint:
    """Writes ``state.json`` after each finished round, so a run resumes from there."""

    def __init__(
        self,
        plan: RunPlan,
        wd: WorkDir,
        fingerprint: Mapping[str, Any],
        restored: _Restored,
        seeds: Mapping[str, Any],
    ) -> None:
        self.plan = plan
        self.seeds = dict(seeds)
        self.wd = wd
        self.fingerprint = dict(fingerprint)
        self.elapsed_before = restored.elapsed
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def save(self, stats: StatsBuilder, round: int) -> None:
        snap = stats.snapshot(self.plan.config.rounds, elapsed_s=self.elapsed())
        self.wd.write_state(
            {
                "version": STATE_VERSION,
                "fingerprint": self.fingerprint,
                "completed_round": round,
                "seeds": self.seeds,
                "stats": snap.to_json(),
            }
        )


async def _run_rounds(rounds: Rounds, completed: int, seeds: int, checkpoint: _Checkpoint) -> None:
    """Round 0 (when not done yet), then each round after ``completed``, saved one by one."""
    rounds.remember_kept(completed)
    if await rounds.answer_failed_seeds(completed):  # a resumed run completes round 0 first
        checkpoint.save(rounds.stats, completed)
    if completed < 0:
        await rounds.seed_round(seeds)
        completed = 0
        checkpoint.save(rounds.stats, 0)
    for r in range(completed + 1, rounds.plan.config.rounds + 1):
        await rounds.evolve_round(r, seeds)
        checkpoint.save(rounds.stats, r)


def _finalise(rounds: Rounds, checkpoint: _Checkpoint, seeds: _SeedsWritten) -> RunResult:
    """The shuffled data set, ``OUT.run.json``, and the run's result."""
    plan, wd, counters = rounds.plan, rounds.wd, rounds.runner.counters
    target = plan.output if plan.output is not None else wd.result
    wd.write_shuffled(plan.config.rounds, plan.config.seed, target)
    final = rounds.stats.snapshot(
        plan.config.rounds,
        elapsed_s=checkpoint.elapsed(),
        calls_sent=counters.sent,
        journal_hits=counters.journal_hits,
        cache_hits=counters.cache_hits,
        retries=counters.retries,
        call_failures=counters.failures,
        hedged=counters.hedged,
        duplicate_seeds=seeds.duplicates,
        **_failure_counts(rounds),
    )
    if plan.output is not None:
        report: dict[str, Any] = {
            "status": "complete",
            "stats": final.to_json(),
            # with whether replies were constrained (not part of the fingerprint)
            "settings": {**checkpoint.fingerprint, "structured": plan.config.structured},
        }
        report.update(seeds=checkpoint.seeds, evolkit=__version__, **cost_report(rounds.runner))
        with atomic_writer(summary_path(plan.output)) as fh:
            json.dump(report, fh, indent=2)
        return RunResult(stats=final, output=plan.output, workdir=wd.path)
    rows = tuple(wd.instructions(target))
    drops = tuple(wd.all_drops(plan.config.rounds))
    return RunResult(stats=final, rows=rows, drops=drops)


async def aevolve(
    seeds: Seeds,
    *,
    rounds: int | None = None,
    model: str | None = None,
    backend: Backend | None = None,
    model_params: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    config: EvolveConfig | None = None,
    plugins: Plugins | None = None,
    progress: str | Progress = "quiet",
    overwrite: bool = False,
    executor: Executor | None = None,
    fields: Mapping[str, str] | Iterable[str] | None = None,
    layout: str | None = None,
    **settings: Any,
) -> RunResult:
    """Evolve ``seeds`` for ``rounds`` rounds; see :func:`evolve`."""
    cfg = _build_config(config, {"rounds": rounds, **settings})
    plugins = plugins if plugins is not None else default_plugins()
    mutators = select_mutators(plugins, cfg.operators)
    filters = select_filters(plugins, cfg.filters)
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(frozen_heap())
        wd, out_path = _prepare_workdir(stack, output)
        if out_path is not None and isinstance(seeds, (str, os.PathLike)):
            refuse_output_over_input(out_path, seeds)  # preflight.py
        with remove_if_refused(wd.path):  # refused seeds leave no work directory behind
            _guard_workdir(stack, wd, out_path)
            seed_source, written = _take_seeds(wd, seeds, fields, layout, progress, cfg)
        opened, source = await _open_backend(stack, plugins, backend, model, model_params)
        plan = RunPlan(
            config=fit_to_backend(cfg, opened),
            mutators=mutators,
            filters=filters,
            backend=source,
            model=opened.model,
            workdir=wd.path,
            output=out_path,
        )
        fingerprint = plan.fingerprint(written.digest)
        plan = attrs.evolve(plan, run_id=run_id(fingerprint))
        prior = wd.read_state()
        restored = _restore_state(wd, prior, fingerprint, overwrite, cfg.rounds)
        finished = None if overwrite else finished_result(prior, cfg.rounds, out_path, wd.path)
        if finished is not None:
            return finished
        await _start_backend(stack, opened, backend is None)
        restored.stats.seeds = written.count
        checkpoint = _Checkpoint(plan, wd, fingerprint, restored, seed_source.to_json())
        run = await _open_rounds(stack, plan, opened, wd, restored.stats, progress, executor)
        try:
            await _run_rounds(run, restored.completed, written.count, checkpoint)
        except RunAborted as stopped:  # failures.py: the report says why, for `evolkit stats`
            if out_path is not None:
                partial = run.stats.snapshot(cfg.rounds, **_failure_counts(run))
                write_report(out_path, f"stopped: {stopped.cause}", partial, fingerprint)
            raise
        return _finalise(run, checkpoint, written)


def _guard_workdir(stack: contextlib.AsyncExitStack[Any], wd: WorkDir, out: Path | None) -> None:
    """Before any model call: a writable output (preflight.py), disk errors in one line, one
    writer per output (lock.py), temp files of an interrupted run removed."""
    if out is not None:
        check_output(out, wd.path)
    stack.enter_context(writing(wd.path, out))


def _failure_counts(rounds: Rounds) -> dict[str, Any]:
    failures = rounds.runner.failures
    return {"failures": dict(failures.causes), "failure_examples": dict(failures.examples)}


def _fp_cmp(fp: Mapping[str, Any]) -> dict[str, Any]:
    """Fingerprints compare without ``rounds``: a finished run may be extended by more rounds."""
    return {k: v for k, v in fp.items() if k != "rounds"}


def evolve(
    seeds: Seeds,
    *,
    rounds: int | None = None,
    model: str | None = None,
    backend: Backend | None = None,
    model_params: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    config: EvolveConfig | None = None,
    plugins: Plugins | None = None,
    progress: str | Progress = "quiet",
    overwrite: bool = False,
    executor: Executor | None = None,
    fields: Mapping[str, str] | Iterable[str] | None = None,
    layout: str | None = None,
    **settings: Any,
) -> RunResult:
    """Evolve ``seeds`` (a file path, ``hf://OWNER/NAME[:CONFIG][@SPLIT]``, or instructions,
    strings, dicts, a pandas DataFrame, a ``datasets.Dataset`` or ``IterableDataset``, read
    one row at a time) for ``rounds`` rounds.

    Each round evolves every instruction of the pool once with an operator drawn with the run's
    seed, answers each evolved instruction, runs the eliminator, and carries the survivors to the
    next round (a failed evolution leaves its parent in the pool). The result holds the seeds
    plus every survivor of every round, shuffled with the seed, and counts per operator and per
    drop reason.

    ``seeds`` may be in any layout :mod:`evolkit.data.layouts` knows (found from the keys), or
    ``layout`` names it; ``fields`` maps roles to keys (``{"instruction": "question",
    "response": "answer"}``, dotted paths for nested keys).

    With ``output``, rows are streamed to disk (``OUT``, ``OUT.run.json`` and the resumable
    work directory ``OUT.evolkit/``); running the same call again resumes where it stopped.
    Without it, the rows are returned in memory. ``settings`` are :class:`EvolveConfig` fields
    (``seed``, ``concurrency``, ``operators``, ``filters``, ``respond``, ``retries``, …).

    Works in scripts and inside a running event loop (Jupyter); ``await aevolve(...)`` in
    async code.
    """
    return run_sync(
        aevolve(
            seeds,
            rounds=rounds,
            model=model,
            backend=backend,
            model_params=model_params,
            output=output,
            config=config,
            plugins=plugins,
            progress=progress,
            overwrite=overwrite,
            executor=executor,
            fields=fields,
            layout=layout,
            **settings,
        )
    )
