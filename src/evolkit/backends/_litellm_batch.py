"""The batch API of OpenAI-format providers, through litellm's files and batches calls.

``litellm.acreate_file`` uploads the JSONL of requests, ``litellm.acreate_batch`` starts a batch
over it, ``litellm.retrieve_batch`` polls it, ``litellm.alist_batches`` finds a batch whose id
was lost in a crash, and ``litellm.file_content`` reads the output and error files back (those
two in a worker thread; see :meth:`LiteLLMBatchClient.retrieve`).
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from evolkit._types import ChatMessage
from evolkit.backends._classify import classify_provider_error
from evolkit.backends._litellm_import import completion_from_response, import_litellm
from evolkit.backends._prices import Prices, prices_for
from evolkit.batch._types import BatchJob, BatchResult
from evolkit.errors import BackendError, ModelError

__all__ = ["BATCH_PROVIDERS", "LiteLLMBatchClient", "parse_result"]

#: litellm providers whose batch API takes OpenAI-format JSONL requests.
BATCH_PROVIDERS = ("openai", "azure", "hosted_vllm", "litellm_proxy")
_CONNECTION = {
    "api_base",
    "base_url",
    "api_key",
    "api_version",
    "organization",
    "timeout",
    "extra_headers",
}
_ENDPOINT = "/v1/chat/completions"
T = TypeVar("T")


def _status_error(status: int, message: str) -> ModelError:
    if status == 429:
        return ModelError(
            f"rate limited: {message}", kind="rate_limit", retryable=True, status=status
        )
    if status >= 500:
        return ModelError(
            f"server error {status}: {message}", kind="server_error", retryable=True, status=status
        )
    if status in (401, 403):
        return ModelError(f"authentication failed: {message}", kind="auth", status=status)
    if status == 404:
        return ModelError(f"model not found: {message}", kind="not_found", status=status)
    return ModelError(f"bad request: {message}", kind="bad_request", status=status)


def parse_result(line: Mapping[str, Any], model: str, prices: Prices) -> BatchResult:
    """One line of an output or error file: the completion at batch prices, or the error."""
    key = str(line.get("custom_id"))
    error = line.get("error")
    if isinstance(error, Mapping):
        code = str(error.get("code") or "error")
        text = str(error.get("message") or code)
        kind = "expired" if code == "batch_expired" else "batch_error"
        return BatchResult(key, None, ModelError(f"{code}: {text}", kind=kind, retryable=True))
    response = line.get("response") or {}
    status = int(response.get("status_code") or 0)
    body = response.get("body") or {}
    if status != 200:
        detail = body.get("error") if isinstance(body, Mapping) else None
        text = str(detail.get("message")) if isinstance(detail, Mapping) else f"status {status}"
        return BatchResult(key, None, _status_error(status, text))
    try:
        litellm = import_litellm()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydantic's schema notes on litellm's types
            response = litellm.ModelResponse(**body)
        completion = completion_from_response(response, model)
    except ModelError as exc:
        return BatchResult(key, None, exc)
    except Exception as exc:
        return BatchResult(
            key, None, ModelError(f"malformed reply: {exc}", kind="malformed", retryable=True)
        )
    usage = completion.usage
    cost = prices.cost(usage.prompt_tokens, usage.completion_tokens, batch=True)
    return BatchResult(key, attrs.evolve(completion, usage=attrs.evolve(usage, cost=cost)))


def _job(obj: Any) -> BatchJob:
    counts = getattr(obj, "request_counts", None)
    return BatchJob(
        id=str(obj.id),
        status=str(obj.status),
        input_file_id=str(obj.input_file_id),
        output_file_id=getattr(obj, "output_file_id", None),
        error_file_id=getattr(obj, "error_file_id", None),
        total=int(getattr(counts, "total", 0) or 0),
        completed=int(getattr(counts, "completed", 0) or 0),
        failed=int(getattr(counts, "failed", 0) or 0),
        created_at=float(getattr(obj, "created_at", 0) or 0),
    )


class LiteLLMBatchClient:
    """Batch requests for one litellm model string; ``params`` are the backend's parameters
    (connection settings go to every call, sampling settings into every request body)."""

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        litellm = import_litellm()
        try:
            name, provider, _, _ = litellm.get_llm_provider(model, api_base=params.get("api_base"))
        except Exception as exc:
            raise BackendError(f"batch mode: unknown model {model!r} ({exc})") from None
        if provider not in BATCH_PROVIDERS:
            raise BackendError(
                f"batch mode needs a provider with an OpenAI-format batch API "
                f"({', '.join(BATCH_PROVIDERS)}); {model!r} is served by {provider!r}: "
                "run it without --batch"
            )
        self.model = model
        self.provider = provider
        self.provider_model = name
        self.prices = prices_for(model)
        self.connection = {k: v for k, v in params.items() if k in _CONNECTION}
        self.sampling = {
            k: v for k, v in params.items() if k not in _CONNECTION and k != "num_retries"
        }

    def request_line(
        self, key: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]
    ) -> bytes:
        body = {"model": self.provider_model, "messages": list(messages), **self.sampling, **params}
        line = {"custom_id": key, "method": "POST", "url": _ENDPOINT, "body": body}
        return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    async def _call(self, fn: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        try:  # litellm's own warnings are filtered once, where it is imported
            return await fn(custom_llm_provider=self.provider, **self.connection, **kwargs)
        except ModelError:
            raise
        except Exception as exc:
            raise classify_provider_error(exc) from exc

    async def upload(self, content: bytes) -> str:
        litellm = import_litellm()
        file = await self._call(
            litellm.acreate_file, file=("evolkit-batch.jsonl", content), purpose="batch"
        )
        return str(file.id)

    async def create(self, file_id: str, completion_window: str) -> BatchJob:
        litellm = import_litellm()
        batch = await self._call(
            litellm.acreate_batch,
            completion_window=completion_window,
            endpoint=_ENDPOINT,
            input_file_id=file_id,
            metadata={"created_by": "evolkit"},
        )
        return _job(batch)

    async def retrieve(self, batch_id: str) -> BatchJob:
        litellm = import_litellm()
        # Sync calls in a thread, here and for file contents: litellm's async variants leave an
        # un-awaited coroutine behind when a finished batch is retrieved (a RuntimeWarning).
        return _job(await self._call(_in_thread(litellm.retrieve_batch), batch_id=batch_id))

    async def find(self, file_id: str) -> BatchJob | None:
        litellm = import_litellm()
        listing = await self._call(litellm.alist_batches, limit=100)
        data = (
            listing.get("data", []) if isinstance(listing, dict) else getattr(listing, "data", [])
        )
        for batch in data or []:
            job = _job(batch if not isinstance(batch, dict) else _Obj(batch))
            if job.input_file_id == file_id:
                return job
        return None

    async def results(self, file_id: str) -> list[BatchResult]:
        litellm = import_litellm()
        content = await self._call(_in_thread(litellm.file_content), file_id=file_id)
        raw = bytes(content.content)
        out = []
        for line in raw.decode("utf-8").splitlines():
            if line.strip():
                out.append(parse_result(json.loads(line), self.model, self.prices))
        return out


def _in_thread(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    async def run(**kwargs: Any) -> T:
        return await asyncio.to_thread(fn, **kwargs)

    return run


class _Obj:
    """Attribute access over a listed batch that came back as a plain dict."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name)
        return _Obj(value) if isinstance(value, Mapping) else value
