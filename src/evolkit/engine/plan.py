"""The run plan: everything one run uses, resolved once and handed unchanged to every layer.

:func:`evolkit.evolve` (and the CLI, which calls it) builds one :class:`RunPlan` from the
caller's settings, the plugins and the opened backend; the call runner, the round steps and
every executor, Ray workers included, are built from that plan by one function each
(:meth:`CallRunner.from_plan <evolkit.engine.calls.CallRunner.from_plan>`,
:class:`~evolkit.engine.steps.RoundContext`), so no layer re-lists the settings by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend, Filter, HintedBackend, Mutator
from evolkit.engine.config import EvolveConfig
from evolkit.engine.structured import resolve_structured

if TYPE_CHECKING:
    from evolkit._plugins import Plugins

__all__ = ["BackendSource", "RunPlan", "fit_to_backend", "select_filters", "select_mutators"]


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
    """The filters named (in that order), or the default filters."""
    registry = plugins.filters()
    wanted = registry.defaults() if names is None else list(names)
    return [registry.get(name) for name in wanted]


def fit_to_backend(config: EvolveConfig, backend: Backend) -> EvolveConfig:
    """``config`` with the settings left open (``None``) taken from the backend's hints, and
    ``structured`` resolved to whether this backend constrains replies."""
    config = attrs.evolve(config, structured=resolve_structured(config.structured, backend))
    if isinstance(backend, HintedBackend):
        hints = backend.hints
        return config.fitted(hints.parallel, hints.timeout, hints.hedge)
    return config.fitted()


@frozen(kw_only=True)
class BackendSource:
    """How a run reaches its model: a backend object, or a model string and parameters that
    the backend registry turns into one (where the plan is used: the driver or a worker)."""

    model: str | None = None
    params: Mapping[str, Any] = field(factory=dict, converter=dict)
    instance: Backend | None = field(default=None, eq=False)

    def build(self, plugins: Plugins | None = None) -> Backend:
        """The backend object (built from the model string when there is none)."""
        if self.instance is not None:
            return self.instance
        if plugins is None:
            from evolkit._plugins import default_plugins

            plugins = default_plugins()
        model = self.model
        if model is None:
            from evolkit.backends.default import resolve_model

            model, _ = resolve_model(None)
        return plugins.backends().create(model, self.params)


def _mutator_tuple(value: Iterable[tuple[Mutator, float]]) -> tuple[tuple[Mutator, float], ...]:
    return tuple(value)


def _filter_tuple(value: Iterable[Filter]) -> tuple[Filter, ...]:
    return tuple(value)


@frozen(kw_only=True)
class RunPlan:
    """One run, resolved: the fitted :class:`EvolveConfig` (``concurrency`` and ``timeout``
    set), the selected mutators and filters, how to reach the backend, and the run's files.

    ``workdir`` is the run's work directory (see :class:`~evolkit.engine.workdir.WorkDir`);
    ``output`` the data set it writes (``None``: rows returned in memory).
    """

    config: EvolveConfig = field(validator=attrs.validators.instance_of(EvolveConfig))
    mutators: tuple[tuple[Mutator, float], ...] = field(converter=_mutator_tuple)
    filters: tuple[Filter, ...] = field(converter=_filter_tuple)
    backend: BackendSource
    model: str
    workdir: Path = field(converter=Path)
    output: Path | None = None
    #: The run's id (a digest of its settings and seeds): part of every call's journal key.
    run_id: str = ""

    def __attrs_post_init__(self) -> None:
        if self.config.concurrency is None or self.config.timeout is None:
            raise ValueError("a RunPlan needs a fitted config (EvolveConfig.fitted)")

    @property
    def concurrency(self) -> int:
        """Model calls in flight."""
        assert self.config.concurrency is not None
        return self.config.concurrency

    @property
    def timeout(self) -> float:
        """Seconds per model call."""
        assert self.config.timeout is not None
        return self.config.timeout

    @property
    def active_filters(self) -> tuple[Filter, ...]:
        """The filters that run: those needing a response only when responses are on."""
        return tuple(f for f in self.filters if self.config.respond or not f.needs_response)

    def fingerprint(self, seeds_digest: str) -> dict[str, Any]:
        """What a resumed run must match: the output-changing settings, seeds, model, plugins."""
        return {
            **self.config.fingerprint(),
            "seeds": seeds_digest,
            "model": self.model,
            "operators_used": sorted(m.name for m, _ in self.mutators),
            "filters_used": [f.name for f in self.filters],
        }

    def for_workers(self, workers: int, concurrency: int, backend: BackendSource) -> RunPlan:
        """The plan each of ``workers`` workers runs: ``concurrency`` calls in flight each, the
        run's request/token-per-minute limits shared out, the backend reached through
        ``backend``; every other setting unchanged."""
        cfg = self.config
        share = attrs.evolve(
            cfg,
            concurrency=concurrency,
            rpm=None if cfg.rpm is None else cfg.rpm / workers,
            tpm=None if cfg.tpm is None else cfg.tpm / workers,
        )
        return attrs.evolve(self, config=share, backend=backend)
