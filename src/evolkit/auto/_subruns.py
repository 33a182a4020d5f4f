"""The evolver's side of an optimisation: ordinary engine runs with one method as the operator.

Each run has its own output path inside the optimisation's work directory, so it has its own
journal and resumes like any ``evolve`` run; they share the backend, the cache and the filters.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evolkit._plugins import Plugins
from evolkit._protocols import Backend
from evolkit._registry import MutatorRegistry
from evolkit._types import Instruction
from evolkit.auto._method import CandidateScore, Method
from evolkit.auto._trajectory import Trajectory, build_trajectories
from evolkit.engine.progress import Progress
from evolkit.engine.result import RunResult
from evolkit.engine.run import aevolve
from evolkit.engine.stats import RunStats
from evolkit.hookspecs import hookimpl

__all__ = ["Evolver", "MethodPlugin"]


class MethodPlugin:
    """A plugin that registers one method's operator (used only when named)."""

    def __init__(self, method: Method, name: str | None = None) -> None:
        self.mutator = method.mutator(name)

    @hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(self.mutator, default=False)


class Evolver:
    """Runs methods on instruction sets through :func:`evolkit.aevolve`."""

    def __init__(
        self,
        *,
        backend: Backend,
        plugins: Plugins,
        workdir: Path,
        seed: int,
        progress: str | Progress,
        settings: Mapping[str, Any],
    ) -> None:
        self.backend = backend
        self.plugins = plugins
        self.workdir = workdir
        self.seed = seed
        self.progress = progress
        self.settings = dict(settings)
        self.registered: list[str] = []
        self.stats: list[RunStats] = []

    def operator(self, method: Method) -> str:
        """The operator name a method runs under here (its content id), registered once."""
        name = f"auto.{method.id}"
        if not self.plugins.pm.has_plugin(name):
            self.plugins.register(MethodPlugin(method, name), name=name, package="evolkit.auto")
            self.registered.append(name)
        return name

    def close(self) -> None:
        """Take the registered method operators out of the plugin manager again."""
        for name in self.registered:
            self.plugins.unregister(name=name)
        self.registered.clear()

    async def run(
        self, method: Method, instructions: Sequence[Instruction], rounds: int, output: str
    ) -> RunResult:
        result = await aevolve(
            list(instructions),
            rounds=rounds,
            backend=self.backend,
            plugins=self.plugins,
            output=os.fspath(self.workdir / output),
            progress=self.progress,
            seed=self.seed,
            operators={self.operator(method): 1.0},
            respond_seeds=False,
            **self.settings,
        )
        self.stats.append(result.stats)
        return result

    async def trajectories(
        self, method: Method, batch: Sequence[Instruction], rounds: int, output: str
    ) -> list[Trajectory]:
        """Evolve ``batch`` for ``rounds`` rounds with ``method``; each seed's trajectory."""
        result = await self.run(method, batch, rounds, output)
        return build_trajectories(batch, result, result.iter_drops(), rounds)

    async def score(
        self, method: Method, dev: Sequence[Instruction], output: str
    ) -> CandidateScore:
        """Evolve each dev instruction once; every drop (parse, filter, model error) fails."""
        result = await self.run(method, dev, 1, output)
        kept = sum(1 for row in result if row.round == 1)
        reasons = Counter(d.reason for d in result.iter_drops() if d.stage != "respond_seed")
        return CandidateScore(
            method_id=method.id, failures=len(dev) - kept, total=len(dev), reasons=reasons
        )
