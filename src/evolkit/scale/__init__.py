"""Scale out: many model endpoints (litellm Router) and many machines (Ray).

- :class:`RouterBackend`: one model name spread over several deployments (vLLM or Ollama
  servers, API keys, regions) by litellm's Router, with cooldown and fallbacks; configured by a
  TOML/YAML file (:func:`load_router_config`). Model strings ``router/...`` build it through
  :func:`router_backend_factory`. It is a backend (:mod:`evolkit.backends.router`), named here
  too.
- :class:`RayExecutor`: ``evolkit.evolve(..., executor=RayExecutor(workers=4))`` evolves each
  round's pool on Ray workers (a private local instance, or a cluster by address) and gives the
  same data set as a single-process run with the same seed.

Nothing here imports litellm or ray until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolkit._lazy import lazy_exports

if TYPE_CHECKING:
    from evolkit.backends._router_config import RouterConfig, load_router_config
    from evolkit.backends.router import RouterBackend, router_backend_factory
    from evolkit.scale.executor import RayExecutor

__all__ = [
    "RayExecutor",
    "RouterBackend",
    "RouterConfig",
    "load_router_config",
    "router_backend_factory",
]

_WHERE = {
    "RayExecutor": "evolkit.scale.executor",
    "RouterBackend": "evolkit.backends.router",
    "router_backend_factory": "evolkit.backends.router",
    "RouterConfig": "evolkit.backends._router_config",
    "load_router_config": "evolkit.backends._router_config",
}

__getattr__ = lazy_exports(__name__, _WHERE)
