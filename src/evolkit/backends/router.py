"""A backend spread over several deployments of a model through litellm's Router.

One run can use a list of vLLM or Ollama servers, several API keys or regions of a provider,
and fallbacks to another model: the Router balances the load, puts a failing deployment in
cooldown for a while, and falls back to another group when a group fails.

Model strings (see :func:`router_backend_factory`):

- ``router/path/to/router.toml``: the config's ``default_model`` group (or its first group);
- ``router/<group>`` with ``router_config=FILE`` in the model parameters (``--router-config``
  on the command line) or ``$EVOLKIT_ROUTER_CONFIG``: that group of the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evolkit._types import ChatMessage, Completion
from evolkit.backends._classify import classify_provider_error, provider_error_types
from evolkit.backends._litellm_import import completion_from_response, import_litellm
from evolkit.backends._router_config import RouterConfig, load_router_config
from evolkit.errors import ConfigError, ModelError

__all__ = ["ROUTER_CONFIG_ENV", "RouterBackend", "router_backend_factory"]

#: Environment variable naming the router config used by ``router/<group>`` model strings.
ROUTER_CONFIG_ENV = "EVOLKIT_ROUTER_CONFIG"
_CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json")

#: Router settings evolkit sets unless the config does: retries are the engine's job (it
#: retries with backoff and journals), so the Router makes one attempt per call by default.
_DEFAULT_SETTINGS: dict[str, Any] = {"num_retries": 0}


class RouterBackend:
    """Calls one model group of a ``litellm.Router`` built from a :class:`RouterConfig`.

    ``model`` is ``router/<group>``: it names the group, not a deployment, so a run's journal
    and cache keys stay the same when deployments are added or removed. ``params`` (e.g.
    ``temperature``) go with every call; per-call parameters override them. The Router is built
    on first use, so the backend pickles (it travels to Ray workers as its configuration).
    """

    def __init__(
        self,
        config: RouterConfig,
        group: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        from evolkit.redact import remember_secrets

        remember_secrets(config.model_list)  # keys written in the router config
        self.config = config
        self.group = config.group(group)
        self.model = f"router/{self.group}"
        self.params: dict[str, Any] = dict(params or {})
        self._router: Any = None
        self._router_loop: asyncio.AbstractEventLoop | None = None

    def reply_scope(self) -> dict[str, Any]:
        """The parameters sent with every call, keys left out (not the deployments: the group
        names the model, so keys stay the same when deployments change)."""
        from evolkit.redact import public_params

        return public_params(self.params)

    @classmethod
    def from_file(
        cls, path: str | Path, group: str | None = None, params: Mapping[str, Any] | None = None
    ) -> RouterBackend:
        """A backend for ``group`` (default: the config's default group) of the file at ``path``."""
        return cls(load_router_config(path), group, params)

    def __repr__(self) -> str:
        count = len(self.config.deployments(self.group))
        return f"RouterBackend(model={self.model!r}, deployments={count})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_router"] = state["_router_loop"] = None  # rebuilt where it is unpickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def router(self) -> Any:
        """The ``litellm.Router`` of the running event loop (built on first access there: its
        HTTP clients belong to one loop)."""
        loop = _running_loop()
        if self._router is None or self._router_loop is not loop:
            self._router_loop = loop
            litellm = import_litellm()
            settings = {**_DEFAULT_SETTINGS, **self.config.router_settings}
            self._router = litellm.Router(model_list=self._deployments(), **settings)
        return self._router

    async def aclose(self) -> None:
        """Close the HTTP clients the Router cached on the running event loop.

        Call it before the event loop that made the calls ends (the engine does, for a backend
        it built); the Router (and its clients) are built again on the next call, on whatever
        loop that runs in, so the backend stays usable and a second call is harmless.
        """
        router, self._router, self._router_loop = self._router, None, None
        if router is None:
            return
        cache = getattr(
            getattr(getattr(router, "cache", None), "in_memory_cache", None), "cache_dict", {}
        )
        for client in list(cache.values()):
            closer = getattr(client, "aclose", None) or getattr(client, "close", None)
            if closer is None:
                continue
            with contextlib.suppress(Exception):
                result = closer()
                if inspect.isawaitable(result):
                    await result

    async def release_connections(self) -> None:
        """Close the Router's connections before the event loop that opened them ends.

        The engine calls this at the end of every run (see
        :class:`~evolkit._protocols.LoopBoundBackend`)."""
        await self.aclose()

    def _deployments(self) -> list[dict[str, Any]]:
        """The model list for the Router; each deployment's client makes one attempt per call
        unless the config says otherwise (the Router re-routes, the engine retries)."""
        out = []
        for deployment in self.config.model_list:
            params = {"max_retries": 0, **deployment["litellm_params"]}
            out.append({**deployment, "litellm_params": params})
        return out

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        """One completion from a deployment of the group, chosen by the Router."""
        router = self.router
        kwargs = {**self.params, **params}
        try:
            response = await router.acompletion(model=self.group, messages=list(messages), **kwargs)
        except provider_error_types() as exc:
            raise classify_provider_error(exc) from exc
        return completion_from_response(response, self.model)

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for an exception a Router call raised."""
        return classify_provider_error(exc)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def router_backend_factory(model: str, params: Mapping[str, Any]) -> RouterBackend:
    """Build a :class:`RouterBackend` from a ``router/...`` model string (a backend factory).

    ``router/<file>.toml|.yaml|.yml|.json`` uses that file's default group; ``router/<group>``
    takes the file from ``params["router_config"]`` or ``$EVOLKIT_ROUTER_CONFIG``. The other
    ``params`` are sent with every call.
    """
    rest = model.split("/", 1)[1] if model.startswith("router/") else model
    call_params = dict(params)
    config_path = call_params.pop("router_config", None)
    if config_path is not None:
        return RouterBackend.from_file(config_path, rest or None, call_params)
    if rest.lower().endswith(_CONFIG_SUFFIXES):
        return RouterBackend.from_file(rest, None, call_params)
    env_path = os.environ.get(ROUTER_CONFIG_ENV)
    if env_path:
        return RouterBackend.from_file(env_path, rest or None, call_params)
    raise ConfigError(
        f"model {model!r} needs a router config: use router/<file.toml>, or pass "
        f"--router-config FILE (model parameter router_config) or set ${ROUTER_CONFIG_ENV}"
    )
