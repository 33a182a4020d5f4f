"""The litellm backend: any model string litellm understands (OpenAI, Anthropic, vLLM, Ollama…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolkit._types import ChatMessage, Completion
from evolkit.backends._classify import classify_provider_error, provider_error_types
from evolkit.backends._litellm_batch import LiteLLMBatchClient
from evolkit.backends._litellm_import import completion_from_response, import_litellm
from evolkit.errors import ModelError

__all__ = ["LiteLLMBackend", "classify_error", "completion_from_response"]


#: Turn a litellm/openai/httpx exception into a :class:`ModelError` (by type; see
#: :mod:`evolkit.backends._classify`).
classify_error = classify_provider_error


class LiteLLMBackend:
    """Calls ``litellm.acompletion`` for any litellm model string.

    ``params`` (``api_base``, ``api_key``, ``temperature``, ``max_tokens``…) are passed through to
    litellm on every call; per-call parameters override them. Retries are left to the engine.
    """

    def __init__(self, model: str, params: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.params: dict[str, Any] = dict(params or {})

    def __repr__(self) -> str:
        return f"LiteLLMBackend(model={self.model!r})"

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        litellm = import_litellm()
        kwargs = {**self.params, **params}
        kwargs.setdefault("num_retries", 0)
        try:
            response = await litellm.acompletion(
                model=self.model, messages=list(messages), **kwargs
            )
        except provider_error_types() as exc:
            raise classify_provider_error(exc) from exc
        return completion_from_response(response, self.model)

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for an exception a litellm call raised (see
        :func:`~evolkit.backends._classify.classify_provider_error`)."""
        return classify_provider_error(exc)

    def batch_client(self) -> LiteLLMBatchClient:
        """The provider's batch API for this model (batch mode, ``--batch``)."""
        return LiteLLMBatchClient(self.model, self.params)
