"""The litellm backend: any model string litellm understands (OpenAI, Anthropic, vLLM, Ollama…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolkit._shapes import ReplyShape, json_schema_format
from evolkit._types import ChatMessage, Completion
from evolkit.backends._classify import classify_provider_error, provider_error_types
from evolkit.backends._litellm_batch import LiteLLMBatchClient
from evolkit.backends._litellm_import import completion_from_response, import_litellm
from evolkit.errors import ModelError

__all__ = ["LiteLLMBackend", "classify_error", "completion_from_response"]


#: Providers whose servers constrain to a schema whatever the model (litellm maps
#: ``response_format`` to Ollama's ``format`` and passes it on to vLLM and LM Studio).
_SCHEMA_PROVIDERS = ("ollama", "ollama_chat", "hosted_vllm", "lm_studio")

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
        self._constrains: bool | None = None

    @property
    def constrains(self) -> bool:
        """Whether litellm can send this model a JSON schema: a provider that always takes one
        (Ollama, vLLM, LM Studio, an OpenAI-compatible server given as ``openai/…`` with an
        ``api_base``), or a model litellm's map says supports ``response_schema``
        (:class:`~evolkit._protocols.ConstrainedBackend`)."""
        if self._constrains is None:
            provider = self.model.partition("/")[0] if "/" in self.model else ""
            own_server = provider == "openai" and bool(
                self.params.get("api_base") or self.params.get("base_url")
            )
            self._constrains = (
                provider in _SCHEMA_PROVIDERS or own_server or _supports_schema(self.model)
            )
        return self._constrains

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        """``response_format`` of type ``json_schema`` with ``shape``'s schema, strict."""
        return {"response_format": json_schema_format(shape)}

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

    def reply_scope(self) -> dict[str, Any]:
        """The parameters sent with every call (``api_base`` among them), keys left out."""
        from evolkit.redact import public_params

        return public_params(self.params)

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for an exception a litellm call raised (see
        :func:`~evolkit.backends._classify.classify_provider_error`)."""
        return classify_provider_error(exc)

    def batch_client(self) -> LiteLLMBatchClient:
        """The provider's batch API for this model (batch mode, ``--batch``)."""
        return LiteLLMBatchClient(self.model, self.params)


def _supports_schema(model: str) -> bool:
    litellm = import_litellm()
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises a bare Exception for a model it does not know
        return False
