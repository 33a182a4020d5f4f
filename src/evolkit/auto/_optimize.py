"""``optimize`` and ``aoptimize``: fit an evolving method to the user's data and model.

Each step evolves a mini-batch of seeds with the current method (the trajectories), has the
optimizer model analyse them and write ``candidates`` improved methods in parallel, scores each
candidate on the development set by its evolution failure rate under the eliminator's filters,
and keeps the lowest, or the current method when every candidate scores worse. Every call goes
through the engine: the evolver's as ordinary runs in the work directory
``METHOD.toml.evolkit/``, the optimizer's through a runner with its own journal, so a killed
optimisation run again resumes, and replays to the same method file.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from evolkit._plugins import Plugins
from evolkit._protocols import Backend
from evolkit._types import Instruction, Usage
from evolkit.auto import _prompts as prompts
from evolkit.auto._inputs import Data, check_state, digest, read_sets
from evolkit.auto._method import CandidateScore, Fitted, Method, StepRecord
from evolkit.auto._optimizer import Optimizer
from evolkit.auto._record import StepView, method_diff, trajectory_path, write_trajectory
from evolkit.auto._subruns import Evolver
from evolkit.engine._loop import run_sync
from evolkit.engine.cache import scoped_cache
from evolkit.engine.calls import CallRunner, open_stores
from evolkit.engine.config import EvolveConfig
from evolkit.engine.plan import fit_to_backend
from evolkit.engine.progress import Progress
from evolkit.engine.run import _open_backend
from evolkit.engine.workdir import WorkDir
from evolkit.errors import ConfigError

__all__ = ["OptimizeResult", "aoptimize", "optimize"]

OPTIMIZER_PARAMS = {"temperature": 0.7, "max_tokens": 768}


@frozen(kw_only=True)
class OptimizeResult:
    """The fitted method, every step's candidates and scores, and what it cost."""

    method: Method
    steps: tuple[StepView, ...]
    usage: Usage
    calls_sent: int
    elapsed_s: float
    output: Path | None = None

    @property
    def failure_rates(self) -> list[float]:
        """The chosen method's dev failure rate after each step (step 0: the initial method)."""
        return [s.score.failure_rate for s in self.steps]


@frozen(kw_only=True)
class _Plan:
    steps: int
    candidates: int
    batch_size: int
    trajectory_rounds: int
    seed: int

    def __attrs_post_init__(self) -> None:
        for name in ("steps", "candidates", "batch_size", "trajectory_rounds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")


class _Optimisation:
    def __init__(
        self,
        plan: _Plan,
        evolver: Evolver,
        optimizer: Optimizer,
        log: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.evolver = evolver
        self.optimizer = optimizer
        self.log = log

    async def run(
        self, initial: Method, seeds: Sequence[Instruction], dev: Sequence[Instruction]
    ) -> list[StepView]:
        """Step 0 scores the initial method on ``dev``; each later step may replace it."""
        score = await self.evolver.score(initial, dev, "step00/initial.jsonl")
        self.log(f"step 0: initial method, dev failure rate {score.failure_rate:.2f}")
        views = [
            StepView(step=0, prompts=(initial.prompt,), scores=(score,), chosen=0, method=initial)
        ]
        for step in range(1, self.plan.steps + 1):
            views.append(await self.step(step, views[-1], seeds, dev))
        return views

    def batch(self, seeds: Sequence[Instruction], step: int) -> list[Instruction]:
        rng = random.Random(f"evolkit-auto:{self.plan.seed}:{step}")
        return rng.sample(list(seeds), min(self.plan.batch_size, len(seeds)))

    async def step(
        self,
        step: int,
        previous: StepView,
        seeds: Sequence[Instruction],
        dev: Sequence[Instruction],
    ) -> StepView:
        """Trajectories, analysis, ``m`` candidates, and the one with the fewest dev failures."""
        current = previous.method
        batch = self.batch(seeds, step)
        rounds = self.plan.trajectory_rounds
        trajectories = await self.evolver.trajectories(
            current, batch, rounds, f"step{step:02d}/trajectories.jsonl"
        )
        feedback = await self.optimizer.analyse(current, trajectories)
        candidates = await self.optimizer.candidates(current, feedback, self.plan.candidates, step)
        scores: list[CandidateScore] = []
        for index, candidate in enumerate(candidates):
            if candidate is None:
                scores.append(
                    CandidateScore(
                        method_id="",
                        failures=len(dev),
                        total=len(dev),
                        reasons={"no_method": len(dev)},
                    )
                )
                continue
            out = f"step{step:02d}/candidate{index}.jsonl"
            scores.append(await self.evolver.score(candidate, dev, out))
        prompts_made = tuple(c.prompt if c is not None else None for c in candidates)
        valid = [i for i, c in enumerate(candidates) if c is not None]
        rates = " ".join(f"{s.failure_rate:.2f}" for s in scores)
        chosen = min(valid, key=lambda i: (scores[i].failure_rate, i)) if valid else None
        if chosen is None or scores[chosen].failure_rate > previous.score.failure_rate:
            # The current method is a candidate too: it stays, listed last with its score,
            # unless a new one scores at least as well.
            why = (
                "no candidate method was usable"
                if chosen is None
                else f"dev failure rate per candidate {rates}, all worse than the current "
                f"{previous.score.failure_rate:.2f}"
            )
            self.log(f"step {step}: {why}; keeping the current one")
            return StepView(
                step=step,
                prompts=(*prompts_made, current.prompt),
                scores=(*scores, previous.score),
                chosen=len(scores),
                method=current,
                feedback=feedback,
            )
        best = candidates[chosen]
        assert best is not None
        self.log(f"step {step}: dev failure rate per candidate {rates}; chose {chosen}")
        return StepView(
            step=step,
            prompts=prompts_made,
            scores=tuple(scores),
            chosen=chosen,
            method=best,
            feedback=feedback,
            diff=method_diff(current.prompt, best.prompt, step),
        )


async def aoptimize(
    seeds: Data,
    dev: Data,
    *,
    output: str | os.PathLike[str] | None = None,
    model: str | None = None,
    optimizer_model: str | None = None,
    backend: Backend | None = None,
    optimizer_backend: Backend | None = None,
    model_params: Mapping[str, Any] | None = None,
    steps: int = 3,
    candidates: int = 3,
    batch_size: int = 8,
    trajectory_rounds: int = 2,
    seed: int = 0,
    initial: Method | str | None = None,
    name: str = "auto",
    optimizer_params: Mapping[str, Any] | None = None,
    plugins: Plugins | None = None,
    progress: str | Progress = "quiet",
    log: Callable[[str], None] | None = None,
    overwrite: bool = False,
    **settings: Any,
) -> OptimizeResult:
    """Fit an evolving method to ``seeds`` and ``dev``; see :func:`optimize`."""
    plan = _Plan(
        steps=steps,
        candidates=candidates,
        batch_size=batch_size,
        trajectory_rounds=trajectory_rounds,
        seed=seed,
    )
    seed_set, dev_set = read_sets(seeds, dev)
    cfg = _engine_config(settings)
    start_method = (
        initial
        if isinstance(initial, Method)
        else Method(prompt=initial or prompts.INITIAL_METHOD, name=name)
    )
    start_method = attrs.evolve(start_method, name=name, version=0, steps=(), fitted=Fitted())
    started = time.monotonic()
    plugins = plugins if plugins is not None else Plugins.load()
    opt_params = dict(optimizer_params or OPTIMIZER_PARAMS)

    async with contextlib.AsyncExitStack() as stack:
        if output is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="evolkit-")))
        else:
            workdir = WorkDir.for_output(Path(output)).path
        backend, _ = await _open_backend(stack, plugins, backend, model, model_params)
        if optimizer_backend is None:
            same = optimizer_model is None or optimizer_model == backend.model
            optimizer_backend = (
                backend
                if same
                else (await _open_backend(stack, plugins, None, optimizer_model, model_params))[0]
            )
        cfg = fit_to_backend(cfg, backend)
        fitted = Fitted(
            evolver_model=backend.model,
            optimizer_model=optimizer_backend.model,
            seeds=digest(seed_set),
            dev=digest(dev_set),
            settings=_fitted_settings(plan, start_method, cfg, opt_params),
        )
        check_state(workdir, fitted.to_toml(), overwrite)
        runner = _optimizer_runner(stack, optimizer_backend, workdir, cfg, plan)
        evolver = Evolver(
            backend=backend,
            plugins=plugins,
            workdir=workdir,
            seed=seed,
            progress=progress,
            settings={**settings, "concurrency": cfg.concurrency, "timeout": cfg.timeout},
        )
        stack.callback(evolver.close)
        optimizer = Optimizer(runner, opt_params)
        say = log if log is not None else (lambda line: None)
        views = await _Optimisation(plan, evolver, optimizer, say).run(
            start_method, seed_set, dev_set
        )
        method = attrs.evolve(
            views[-1].method,
            version=plan.steps,
            fitted=fitted,
            steps=tuple(
                StepRecord(step=v.step, candidates=v.scores, chosen=v.chosen) for v in views
            ),
        )
        out_path = Path(output) if output is not None else None
        if out_path is not None:
            method.save(out_path)
            write_trajectory(trajectory_path(out_path), method, views)
        return OptimizeResult(
            method=method,
            steps=tuple(views),
            usage=sum((s.usage for s in evolver.stats), optimizer.usage),
            calls_sent=runner.counters.sent + sum(s.calls_sent for s in evolver.stats),
            elapsed_s=time.monotonic() - started,
            output=out_path,
        )


def _engine_config(settings: Mapping[str, Any]) -> EvolveConfig:
    for fixed in ("rounds", "operators", "respond_seeds"):
        if settings.get(fixed) is not None:
            raise ConfigError(f"{fixed} is set by the optimisation itself and cannot be given")
    try:
        return EvolveConfig(**{k: v for k, v in settings.items() if v is not None})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad optimise setting: {exc}") from None


def _fitted_settings(
    plan: _Plan, initial: Method, cfg: EvolveConfig, optimizer_params: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings that decide the method file; a resumed optimisation must match them."""
    engine = {
        k: v
        for k, v in cfg.fingerprint().items()
        if k not in {"rounds", "operators", "respond_seeds"}
    }
    return {
        **attrs.asdict(plan),
        "initial_method": initial.id,
        "filters": list(cfg.filters) if cfg.filters is not None else "default",
        "optimizer_params": json.dumps(dict(optimizer_params), sort_keys=True),
        "engine": json.dumps(engine, sort_keys=True),
    }


def _optimizer_runner(
    stack: contextlib.AsyncExitStack,
    backend: Backend,
    workdir: Path,
    cfg: EvolveConfig,
    plan: _Plan,
) -> CallRunner:
    """The optimizer's calls: their own journal in the work directory, the run's cache."""
    journal, cache = open_stores(stack, workdir / "optimizer.journal.sqlite", cfg.cache)
    optimizer = attrs.evolve(cfg, concurrency=plan.candidates)
    return CallRunner.from_config(optimizer, backend, journal, scoped_cache(cache, backend))


def optimize(
    seeds: Data,
    dev: Data,
    *,
    output: str | os.PathLike[str] | None = None,
    model: str | None = None,
    optimizer_model: str | None = None,
    backend: Backend | None = None,
    optimizer_backend: Backend | None = None,
    **options: Any,
) -> OptimizeResult:
    """Fit an evolving method to ``seeds`` (trajectories) and ``dev`` (selection).

    ``steps`` optimisation steps, each writing ``candidates`` methods from the analysis of a
    ``batch_size`` mini-batch evolved ``trajectory_rounds`` rounds; the candidate with the
    lowest failure rate on ``dev`` (every drop of the eliminator's ``filters`` counts) becomes
    the current method. ``model`` evolves and answers, ``optimizer_model`` (default: the same)
    analyses and rewrites. Other ``settings`` are :class:`~evolkit.EvolveConfig` fields for the
    evolver's runs (``filters``, ``respond_system``, ``concurrency``, ``cache``, …). With
    ``output``, writes the method file and ``OUTPUT.trajectory.json``, and resumes from
    ``OUTPUT.evolkit/`` when run again.
    """
    return run_sync(
        aoptimize(
            seeds,
            dev,
            output=output,
            model=model,
            optimizer_model=optimizer_model,
            backend=backend,
            optimizer_backend=optimizer_backend,
            **options,
        )
    )
