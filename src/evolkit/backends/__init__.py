"""Built-in backends: ``litellm`` (every model string), ``openai-compatible`` (the lean transport
for OpenAI-compatible servers), ``fake`` (tests and demos), ``local``, ``router``.

This module is itself a plugin: it registers the backends through
``evolkit_register_backends`` like any third-party package would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evolkit._protocols import Backend
from evolkit._registry import BackendRegistry
from evolkit.hookspecs import hookimpl

__all__ = ["evolkit_register_backends"]


def _litellm(model: str, params: Mapping[str, Any]) -> Backend:
    from evolkit.backends.litellm import LiteLLMBackend

    return LiteLLMBackend(model, params)


def _openai_compatible(model: str, params: Mapping[str, Any]) -> Backend:
    from evolkit.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(model, params)


def _local(model: str, params: Mapping[str, Any]) -> Backend:
    from evolkit.backends.local import LocalBackend

    return LocalBackend(model, params)


def _is_local(model: str) -> bool:
    # Kept here (not imported from .local) so building the registry stays cheap.
    return model.startswith("local/") or model.lower().endswith(".gguf")


def _router(model: str, params: Mapping[str, Any]) -> Backend:
    from evolkit.backends.router import router_backend_factory

    return router_backend_factory(model, params)


def _fake(model: str, params: Mapping[str, Any]) -> Backend:
    from evolkit.backends.fake import FakeBackend

    return FakeBackend.default(model=model)


@hookimpl
def evolkit_register_backends(registry: BackendRegistry) -> None:
    registry.add(
        "litellm",
        _litellm,
        matches=lambda model: True,
        description="any model litellm reaches: OpenAI, Anthropic, vLLM, Ollama, ...",
    )
    registry.add(
        "openai-compatible",
        _openai_compatible,
        description="any OpenAI-compatible server (vLLM, SGLang, llama.cpp, TGI, Ollama) "
        "spoken to directly, at a tenth of litellm's CPU per call "
        "(openai-compatible/<model> with --api-base)",
    )
    registry.add(
        "fake",
        _fake,
        description="scripted offline model for tests and demos (fake/<anything>)",
    )
    registry.add(
        "local",
        _local,
        matches=_is_local,
        description="a GGUF model run by llama.cpp on this machine (local/<name> or a .gguf path)",
    )
    registry.add(
        "router",
        _router,
        description="one model over several deployments with litellm's Router "
        "(router/<config.toml>, or router/<group> with --router-config)",
    )
