"""The litellm backend: any model string litellm understands (OpenAI, Anthropic, vLLM, Ollama…)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evolkit._types import ChatMessage, Completion, Usage
from evolkit.backends._litellm_import import import_litellm
from evolkit.errors import ModelError

if TYPE_CHECKING:
    from evolkit.batch._litellm import LiteLLMBatchClient

__all__ = ["LiteLLMBackend", "classify_error", "completion_from_response"]


_CONNECTION_ERRORS = {
    "APIConnectionError",
    "ConnectError",
    "RemoteProtocolError",
    "ReadError",
    "ServerDisconnectedError",
    "ClientConnectionError",
    "ClientOSError",
    "ClientPayloadError",
}


def _causes(exc: BaseException) -> list[BaseException]:
    """The exceptions ``exc`` wraps (``__cause__``/``__context__``), nearest first."""
    found: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and len(found) < 10 and all(current is not f for f in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _wrapped_kind(exc: BaseException, text: str) -> ModelError | None:
    """litellm reports dropped connections and unparsable replies as a 500; find the real cause."""
    for cause in _causes(exc):
        name = type(cause).__name__
        if name in _CONNECTION_ERRORS or isinstance(cause, ConnectionError):
            return ModelError(f"connection failed: {text}", kind="connection", retryable=True)
        if name == "JSONDecodeError":
            return ModelError(f"malformed reply: {text}", kind="malformed", retryable=True)
    if "'choices'" in text:
        return ModelError(f"malformed reply: {text}", kind="malformed", retryable=True)
    return None


def classify_error(exc: BaseException) -> ModelError:
    """Turn a litellm/openai/httpx exception into a :class:`ModelError` with a retry verdict."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else name
    if isinstance(exc, ModelError):
        return exc
    if status == 429 or name == "RateLimitError":
        return ModelError(f"rate limited: {text}", kind="rate_limit", retryable=True)
    if name in {"Timeout", "APITimeoutError", "TimeoutError", "ReadTimeout"} or isinstance(
        exc, TimeoutError
    ):
        return ModelError(f"timed out: {text}", kind="timeout", retryable=True)
    if name in {"APIConnectionError", "ConnectError", "RemoteProtocolError", "ReadError"}:
        return ModelError(f"connection failed: {text}", kind="connection", retryable=True)
    wrapped = _wrapped_kind(exc, text)
    if wrapped is not None:
        return wrapped
    if isinstance(status, int) and status >= 500:
        return ModelError(f"server error {status}: {text}", kind="server_error", retryable=True)
    if name in {"InternalServerError", "ServiceUnavailableError", "BadGatewayError"}:
        return ModelError(f"server error: {text}", kind="server_error", retryable=True)
    if name in {"AuthenticationError", "PermissionDeniedError"}:
        return ModelError(
            f"authentication failed: {text} (set the provider's API key, e.g. OPENAI_API_KEY)",
            kind="auth",
        )
    if name in {"NotFoundError"}:
        return ModelError(f"model not found: {text} (check --model)", kind="not_found")
    if name in {"BadRequestError", "UnprocessableEntityError", "ContextWindowExceededError"}:
        return ModelError(f"bad request: {text}", kind="bad_request")
    if name in {"JSONDecodeError", "APIResponseValidationError"} or isinstance(exc, ValueError):
        return ModelError(f"malformed reply: {text}", kind="malformed", retryable=True)
    return ModelError(f"{name}: {text}", kind="error", retryable=True)


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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                response = await litellm.acompletion(
                    model=self.model, messages=list(messages), **kwargs
                )
        except Exception as exc:
            raise classify_error(exc) from exc
        return completion_from_response(response, self.model)

    def batch_client(self) -> LiteLLMBatchClient:
        """The provider's batch API for this model (batch mode, ``--batch``)."""
        from evolkit.batch._litellm import LiteLLMBatchClient

        return LiteLLMBatchClient(self.model, self.params)


def completion_from_response(response: Any, fallback_model: str) -> Completion:
    """A :class:`Completion` from a litellm ``ModelResponse`` (text, usage, litellm's cost)."""
    try:
        choice = response.choices[0]
        text = choice.message.content
        finish = getattr(choice, "finish_reason", None)
    except (AttributeError, IndexError, TypeError) as exc:
        raise ModelError("malformed reply: no choices", kind="malformed", retryable=True) from exc
    if text is None:
        raise ModelError("malformed reply: empty message", kind="malformed", retryable=True)
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    cost = 0.0
    hidden = getattr(response, "_hidden_params", None) or {}
    if isinstance(hidden, dict) and isinstance(hidden.get("response_cost"), (int, float)):
        cost = float(hidden["response_cost"])
    return Completion(
        text=text,
        usage=Usage(prompt_tokens, completion_tokens, cost),
        model=str(getattr(response, "model", None) or fallback_model),
        finish_reason=finish,
    )
