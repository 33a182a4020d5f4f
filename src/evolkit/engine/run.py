"""``evolve`` and ``aevolve``: seeds in, an evolved, filtered, shuffled data set out."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from evolkit._plugins import Plugins, default_plugins
from evolkit._protocols import Backend, Filter, Mutator
from evolkit._types import Instruction
from evolkit.engine._loop import run_sync
from evolkit.engine.cache import ResponseCache
from evolkit.engine.calls import CallRunner
from evolkit.engine.config import EvolveConfig
from evolkit.engine.duplicates import SeedDeduper
from evolkit.engine.executor import Executor, LocalExecutor
from evolkit.engine.failures import FailurePolicy, FailureTracker, RunAborted
from evolkit.engine.journal import Journal
from evolkit.engine.lock import locked, sweep_temp_files
from evolkit.engine.ordered import ordered_map
from evolkit.engine.preflight import check_output, check_size, disk_errors
from evolkit.engine.progress import Progress, Snapshot, make_progress
from evolkit.engine.result import RunResult
from evolkit.engine.resume import finished_result, run_id, write_report
from evolkit.engine.stats import Drop, StatsBuilder
from evolkit.engine.steps import Outcome, RoundContext
from evolkit.engine.workdir import WorkDir
from evolkit.errors import ConfigError, ModelError
from evolkit.io import atomic_writer, read_instructions

__all__ = ["aevolve", "evolve", "select_filters", "select_mutators"]

Seeds = Iterable[Instruction | str] | str | os.PathLike[str]
STATE_VERSION = 1


def select_mutators(
    plugins: Plugins, weights: Mapping[str, float] | None
) -> list[tuple[Mutator, float]]:
    """Mutators with weights, from names or kinds (``{"depth": 5, "breadth.mutate": 1}``)."""
    registry = plugins.mutators()
    if weights is None:
        return [(registry.get(name), 1.0) for name in registry.defaults()]
    kinds = registry.kinds()
    chosen: dict[str, float] = {}
    for key, weight in weights.items():
        if key in registry:
            chosen[key] = weight
        elif key in kinds:
            for name in kinds[key]:
                chosen.setdefault(name, weight)
        else:
            registry.get(key)  # raises UnknownNameError with suggestions
    return [(registry.get(name), weight) for name, weight in chosen.items()]


def select_filters(plugins: Plugins, names: Iterable[str] | None) -> list[Filter]:
    registry = plugins.filters()
    wanted = registry.defaults() if names is None else list(names)
    return [registry.get(name) for name in wanted]


def _resolve_backend(plugins: Plugins, model: str | None, params: Mapping[str, Any]) -> Backend:
    """The backend for ``model``, or for the default model (``EVOLKIT_MODEL``, then embedded)."""
    if model is None:
        from evolkit.backends.default import resolve_model

        model, _ = resolve_model(None)
    return plugins.backends().create(model, params)


def _seed_stream(seeds: Seeds) -> Iterator[Instruction]:
    if isinstance(seeds, (str, os.PathLike)):
        yield from read_instructions(seeds)
        return
    for item in seeds:
        yield Instruction(text=item) if isinstance(item, str) else item


def _write_seeds(
    seeds: Seeds, path: Path, duplicate_ids: str = "error", max_chars: int = 50_000
) -> tuple[str, int, int]:
    """Copy the seeds (duplicates removed) to ``path``; return digest, count and duplicates."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    source = str(seeds) if isinstance(seeds, (str, os.PathLike)) else "seeds"
    dedupe = SeedDeduper(duplicate_ids, source)
    with atomic_writer(path) as fh:
        for row, given in enumerate(_seed_stream(seeds), start=1):
            check_size(source, row, given, max_chars)  # preflight.py
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
    return digest.hexdigest(), len(seen), dedupe.dropped


class _Run:
    def __init__(
        self,
        cfg: EvolveConfig,
        wd: WorkDir,
        runner: CallRunner,
        ctx: RoundContext,
        progress: Progress,
        executor: Executor,
    ) -> None:
        self.executor = executor
        self.cfg = cfg
        self.wd = wd
        self.runner = runner
        self.ctx = ctx
        self.stats = ctx.stats
        self.progress = progress

    def snapshot(self, round: int, done: int, total: int, kept: int, dropped: int) -> Snapshot:
        usage = self.stats.usage_round.get(round)
        return Snapshot(
            round=round,
            rounds=self.cfg.rounds,
            done=done,
            total=total,
            kept=kept,
            dropped=dropped,
            in_flight=self.runner.counters.in_flight,
            tokens=usage.total_tokens if usage else 0,
            cost=usage.cost if usage else 0.0,
            calls=self.runner.counters.sent,
        )

    async def seed_round(self, total: int) -> None:
        """Round 0: the seeds, answered where they have no response yet."""
        ctx = self.ctx

        async def answer(index: int, seed: Instruction) -> tuple[Instruction, Drop | None]:
            if not (ctx.respond and self.cfg.respond_seeds) or seed.response is not None:
                return seed, None
            try:
                response = await ctx.respond_to(seed, 0, "seed")
                if len(response) > ctx.max_reply_chars:
                    return seed, Drop(
                        0, seed.id, "seed", "respond_seed", "engine", "reply_too_long"
                    )
                return attrs.evolve(seed, response=response), None
            except ModelError as exc:
                # A seed is never dropped: it stays, without a response, and the failure is
                # listed with the drops.
                failure = Drop(
                    0, seed.id, "seed", "respond_seed", "model", f"model_error:{exc.kind}"
                )
                return seed, failure

        self.progress.start_round(0, self.cfg.rounds, total)
        done = failed = 0
        with (
            atomic_writer(self.wd.rows(0)) as rows,
            atomic_writer(self.wd.pool(0)) as pool,
            atomic_writer(self.wd.drops(0)) as drops,
        ):
            results = ordered_map(
                self.wd.instructions(self.wd.seeds), answer, self.cfg.concurrency * 4
            )
            async for seed, failure in results:
                line = json.dumps(seed.to_record(), ensure_ascii=False) + "\n"
                rows.write(line)
                pool.write(line)
                self.stats.keep(0, "")
                if failure is not None:
                    drops.write(json.dumps(failure.to_record(), ensure_ascii=False) + "\n")
                    self.stats.seed_response_failures += 1
                ctx.seen_before.add(seed.id)
                done += 1
                failed += failure is not None
                self.runner.failures.check_round(0, failed, done)  # failures.py: may stop
                self.progress.update(self.snapshot(0, done, total, done, 0))
            self.runner.failures.check_round(0, failed, done, final=True)
        self.progress.end_round(self.snapshot(0, done, total, done, 0))

    async def evolve_round(self, round: int, total: int) -> None:
        ctx = self.ctx
        seen_now: set[str] = set()
        done = kept = dropped = failed = 0
        self.progress.start_round(round, self.cfg.rounds, total)
        with (
            atomic_writer(self.wd.rows(round)) as rows,
            atomic_writer(self.wd.pool(round)) as pool,
            atomic_writer(self.wd.drops(round)) as drops,
        ):
            results = self.executor.outcomes(
                ctx, round, self.wd.instructions(self.wd.pool(round - 1))
            )
            async for outcome in results:
                done += 1
                child, drop = outcome.child, outcome.drop
                if child is not None and child.id in seen_now:
                    drop, child = _dedupe_drop(outcome), None
                if child is not None:
                    seen_now.add(child.id)
                    line = json.dumps(child.to_record(), ensure_ascii=False) + "\n"
                    rows.write(line)
                    pool.write(line)
                    self.stats.keep(round, child.operator or "")
                    kept += 1
                else:
                    assert drop is not None
                    drops.write(json.dumps(drop.to_record(), ensure_ascii=False) + "\n")
                    pool.write(json.dumps(outcome.parent.to_record(), ensure_ascii=False) + "\n")
                    self.stats.drop(drop)
                    dropped += 1
                    failed += drop.reason.startswith("model_error:")
                self.runner.failures.check_round(round, failed, done)  # failures.py: may stop
                self.progress.update(self.snapshot(round, done, total, kept, dropped))
            self.runner.failures.check_round(round, failed, done, final=True)
        ctx.seen_before |= seen_now
        self.progress.end_round(self.snapshot(round, done, total, kept, dropped))


def _dedupe_drop(outcome: Outcome) -> Drop:
    child = outcome.child
    assert child is not None
    return Drop(
        child.round,
        outcome.parent.id,
        child.operator or "",
        "dedupe",
        "engine",
        "duplicate",
        child.text,
    )


def _shuffle_into(wd: WorkDir, rounds: int, seed: int, target: Path) -> int:
    """Write every kept row of every round to ``target`` in a seeded random order.

    Only the byte offsets are held in memory (8 bytes a row), so a million rows need ~8 MB.
    """
    files = [wd.rows(r) for r in range(rounds + 1)]
    offsets = array("Q")
    for index, path in enumerate(files):
        position = 0
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    offsets.append((index << 48) | position)
                position += len(line)
    order = offsets.tolist()
    random.Random(f"evolkit-shuffle:{seed}").shuffle(order)
    handles = [path.open("rb") for path in files]
    try:
        with atomic_writer(target, "wb") as out:
            for packed in order:
                fh = handles[packed >> 48]
                fh.seek(packed & ((1 << 48) - 1))
                out.write(fh.readline())
    finally:
        for fh in handles:
            fh.close()
    return len(order)


def _build_config(config: EvolveConfig | None, settings: Mapping[str, Any]) -> EvolveConfig:
    base = config if config is not None else EvolveConfig()
    try:
        return attrs.evolve(base, **{k: v for k, v in settings.items() if v is not None})
    except TypeError as exc:
        raise ConfigError(f"unknown evolve setting: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


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
    **settings: Any,
) -> RunResult:
    """Evolve ``seeds`` for ``rounds`` rounds; see :func:`evolve`."""
    cfg = _build_config(config, {"rounds": rounds, **settings})
    plugins = plugins if plugins is not None else default_plugins()
    mutators = select_mutators(plugins, cfg.operators)
    filters = select_filters(plugins, cfg.filters)
    started = time.monotonic()

    async with contextlib.AsyncExitStack() as stack:
        if output is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evolkit-"))
            out_path: Path | None = None
            wd = WorkDir(Path(tmp) / "run.evolkit")
        else:
            out_path = Path(output)
            wd = WorkDir(out_path.with_name(out_path.name + ".evolkit"))
            check_output(out_path, wd.path)  # preflight.py: before any model call
        stack.enter_context(disk_errors(wd.path))
        stack.enter_context(locked(wd.path, out_path))  # lock.py: one writer per output
        sweep_temp_files(wd.path, out_path)
        wd.ensure()
        digest, n_seeds, duplicates = _write_seeds(
            seeds, wd.file("seeds.next.jsonl"), cfg.duplicate_ids, cfg.max_instruction_chars
        )
        enter_backend = backend is None
        if backend is None:
            backend = _resolve_backend(plugins, model, model_params or {})
        if config is None:
            cfg = _fit_to_backend(cfg, backend, settings)
        release = getattr(backend, "release_connections", None)
        if release is not None:
            # A backend that caches connections on this event loop closes them before it ends.
            stack.push_async_callback(release)
        fingerprint = {
            **cfg.fingerprint(),
            "seeds": digest,
            "model": backend.model,
            "operators_used": sorted(m.name for m, _ in mutators),
            "filters_used": [f.name for f in filters],
        }
        state = wd.read_state()
        if state is not None and (
            overwrite
            or state.get("version") != STATE_VERSION
            or _fp_cmp(state["fingerprint"]) != _fp_cmp(fingerprint)
        ):
            if not overwrite:
                changed = sorted(
                    k
                    for k in set(fingerprint) | set(state.get("fingerprint", {}))
                    if k not in {"rounds"}
                    and state.get("fingerprint", {}).get(k) != fingerprint.get(k)
                )
                raise ConfigError(
                    f"{wd.path} holds a run with different settings ({', '.join(changed)}): "
                    "resume with the same settings, or pass --overwrite / a new output path"
                )
            wd.clear(keep={"seeds.next.jsonl"})
            state = None
        os.replace(wd.file("seeds.next.jsonl"), wd.seeds)
        finished = finished_result(state, cfg.rounds, out_path, wd.path)  # resume.py
        if finished is not None:
            return finished
        if enter_backend and hasattr(backend, "__aenter__"):
            await stack.enter_async_context(backend)  # type: ignore[arg-type]

        stats = StatsBuilder()
        completed = -1
        elapsed_before = 0.0
        if state is not None:
            completed = min(int(state["completed_round"]), cfg.rounds)
            stats = StatsBuilder.restore(state["stats"])
            elapsed_before = float(state["stats"].get("elapsed_s", 0.0))
        stats.seeds = n_seeds

        journal = Journal(wd.journal)
        cache = ResponseCache(cfg.cache) if cfg.cache is not None else None
        if cache is not None:
            stack.callback(cache.close)
        stack.push_async_callback(journal.aclose)
        runner = CallRunner(
            backend,
            journal,
            cache=cache,
            concurrency=cfg.concurrency,
            timeout=cfg.timeout,
            retries=cfg.retries,
            backoff=cfg.backoff,
            backoff_max=cfg.backoff_max,
            rpm=cfg.rpm,
            tpm=cfg.tpm,
            run_id=run_id(fingerprint),
            failures=FailureTracker(
                FailurePolicy(
                    max_failure_rate=cfg.max_failure_rate,
                    breaker_calls=cfg.breaker_calls,
                    strict=cfg.strict,
                )
            ),
        )
        ctx = RoundContext(
            runner=runner,
            stats=stats,
            mutators=mutators,
            filters=filters,
            seed=cfg.seed,
            respond=cfg.respond,
            mutate_params=cfg.mutate_params,
            respond_params=cfg.respond_params,
            respond_system=cfg.respond_system,
            max_reply_chars=cfg.max_reply_chars,
            max_instruction_chars=cfg.max_instruction_chars,
        )
        reporter = make_progress(progress) if isinstance(progress, str) else progress
        stack.callback(reporter.close)
        run = _Run(cfg, wd, runner, ctx, reporter, executor or LocalExecutor(cfg.concurrency * 4))

        def save(round: int) -> None:
            snap = stats.snapshot(cfg.rounds, elapsed_s=elapsed_before + time.monotonic() - started)
            wd.write_state(
                {
                    "version": STATE_VERSION,
                    "fingerprint": fingerprint,
                    "completed_round": round,
                    "stats": snap.to_json(),
                }
            )

        for r in range(completed + 1):
            ctx.seen_before.update(inst.id for inst in wd.instructions(wd.rows(r)))
        try:
            if completed < 0:
                await run.seed_round(n_seeds)
                completed = 0
                save(0)
            for r in range(completed + 1, cfg.rounds + 1):
                await run.evolve_round(r, n_seeds)
                save(r)
        except RunAborted as stopped:  # failures.py: the report says why, for `evolkit stats`
            if out_path is not None:
                partial = stats.snapshot(
                    cfg.rounds,
                    failures=dict(runner.failures.causes),
                    failure_examples=dict(runner.failures.examples),
                )
                write_report(out_path, f"stopped: {stopped.cause}", partial, fingerprint)
            raise

        target = out_path if out_path is not None else wd.file("result.jsonl")
        _shuffle_into(wd, cfg.rounds, cfg.seed, target)
        final = stats.snapshot(
            cfg.rounds,
            elapsed_s=elapsed_before + time.monotonic() - started,
            calls_sent=runner.counters.sent,
            journal_hits=runner.counters.journal_hits,
            cache_hits=runner.counters.cache_hits,
            retries=runner.counters.retries,
            call_failures=runner.counters.failures,
            duplicate_seeds=duplicates,
            failures=dict(runner.failures.causes),
            failure_examples=dict(runner.failures.examples),
        )
        if out_path is not None:
            write_report(out_path, "complete", final, fingerprint)
            return RunResult(stats=final, output=out_path, workdir=wd.path)
        rows = tuple(wd.instructions(target))
        drops = tuple(wd.all_drops(cfg.rounds))
        return RunResult(stats=final, rows=rows, drops=drops)


def _fit_to_backend(
    cfg: EvolveConfig, backend: Backend, settings: Mapping[str, Any]
) -> EvolveConfig:
    """Defaults that suit a backend with a fixed number of parallel slots (a local CPU model):
    as many calls in flight as it has slots, and a patient per-call timeout. Settings the
    caller gave are left alone."""
    slots = getattr(backend, "parallel", None)
    if not isinstance(slots, int) or slots <= 0:
        return cfg
    given = {k for k, v in settings.items() if v is not None}
    changes: dict[str, Any] = {}
    if "concurrency" not in given:
        changes["concurrency"] = slots
    if "timeout" not in given:
        changes["timeout"] = max(cfg.timeout, 600.0)
    return attrs.evolve(cfg, **changes)


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
    **settings: Any,
) -> RunResult:
    """Evolve ``seeds`` (a file path, or instructions/strings) for ``rounds`` rounds.

    Each round evolves every instruction of the pool once with an operator drawn with the run's
    seed, answers each evolved instruction, runs the eliminator, and carries the survivors to the
    next round (a failed evolution leaves its parent in the pool). The result holds the seeds
    plus every survivor of every round, shuffled with the seed, and counts per operator and per
    drop reason.

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
            **settings,
        )
    )
