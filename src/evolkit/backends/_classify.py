"""Turn what litellm, openai, httpx and aiohttp raise into a :class:`ModelError`, by type.

Classification reads exception *types* and HTTP statuses, never class-name strings. litellm
wraps a dropped connection or an unreadable body in a 500, and a missing API key in a 500 as
well, so the exception's cause chain is read first: the nearest cause that says more wins.

An exception of no provider type (a ``TypeError`` in evolkit's or a plugin's code) is not a
model fault: :func:`classify_provider_error` returns a ``ModelError`` of kind ``"error"``, which
is not one of :data:`~evolkit.errors.MODEL_ERROR_KINDS`, and the engine treats it as a
programming error (never retried).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import time
from typing import Any

from evolkit.errors import ModelError
from evolkit.redact import redact

__all__ = [
    "classify_provider_error",
    "provider_error_types",
    "retry_after_header",
    "retry_after_seconds",
]

_FIXES = {
    "auth": "set the provider's API key (e.g. OPENAI_API_KEY) or pass api_key; check it is valid",
    "not_found": "check --model and --api-base",
    "connection": "check --api-base and that the server is running",
}


@functools.cache
def _optional_types(module: str, names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError:
        return ()
    found = tuple(getattr(mod, name, None) for name in names)
    return tuple(t for t in found if isinstance(t, type) and issubclass(t, BaseException))


@functools.cache
def provider_error_types() -> tuple[type[BaseException], ...]:
    """The exception types a provider call may raise for a model fault (caught by backends)."""
    return (
        *_optional_types("openai", ("OpenAIError",)),
        *_optional_types("httpx", ("HTTPError", "InvalidURL")),
        *_optional_types("aiohttp", ("ClientError",)),
        *_optional_types("litellm.exceptions", ("APIError", "OpenAIError")),
        OSError,
        TimeoutError,
        asyncio.TimeoutError,
        json.JSONDecodeError,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` then the exceptions it wraps (``__cause__``/``__context__``), nearest first."""
    found = [exc]
    current = exc.__cause__ or exc.__context__
    while current is not None and len(found) < 12 and all(current is not f for f in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def retry_after_header(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) in a
    response's ``headers``; ``None`` when neither is there or readable."""
    try:
        millis = headers.get("retry-after-ms")
        raw = headers.get("retry-after") or headers.get("Retry-After")
    except (AttributeError, TypeError):
        return None
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except (TypeError, ValueError):
            pass
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a provider asked for, read from the headers of ``exc`` or of an exception
    it wraps, if any."""
    for item in _chain(exc):
        headers: Any = getattr(getattr(item, "response", None), "headers", None)
        if headers is None:
            headers = getattr(item, "litellm_response_headers", None)
        wait = retry_after_header(headers) if headers is not None else None
        if wait is not None:
            return wait
    return None


def _status_kind(status: int) -> tuple[str, bool] | None:
    if status in (401, 403):
        return "auth", False
    if status == 404:
        return "not_found", False
    if status == 429:
        return "rate_limit", True
    if status == 408:
        return "timeout", True
    if status >= 500:
        return "server_error", True
    if 400 <= status < 500:
        return "bad_request", False
    return None


def _kind_of(item: BaseException) -> tuple[str, bool] | None:
    """The kind one exception (not its causes) tells on its own, or None."""
    import openai

    if isinstance(item, (openai.APITimeoutError, TimeoutError, asyncio.TimeoutError)):
        return "timeout", True
    if isinstance(item, openai.APIConnectionError):
        return "connection", True
    if isinstance(item, (json.JSONDecodeError, openai.APIResponseValidationError)):
        return "malformed", True
    if isinstance(item, openai.APIStatusError):
        return _status_kind(int(item.status_code))
    if isinstance(item, openai.OpenAIError) and not isinstance(item, openai.APIError):
        # The client refused to send: no credentials, or a bad client setting.
        return "auth", False
    if isinstance(item, ConnectionError):
        return "connection", True
    for types, kind in (
        (_optional_types("httpx", ("TimeoutException",)), "timeout"),
        (_optional_types("httpx", ("TransportError",)), "connection"),
        (_optional_types("aiohttp", ("ClientConnectionError", "ClientPayloadError")), "connection"),
    ):
        if types and isinstance(item, types):
            return kind, True
    return None


def _message(kind: str, exc: BaseException, status: int | None) -> str:
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    label = {
        "auth": "authentication failed",
        "not_found": "model or endpoint not found",
        "bad_request": "bad request",
        "rate_limit": "rate limited",
        "server_error": "server error",
        "connection": "connection failed",
        "timeout": "timed out",
        "malformed": "malformed reply",
    }.get(kind, type(exc).__name__)
    if status is not None and kind not in {"connection", "timeout", "malformed"}:
        label = f"{label} {status}"
    fix = _FIXES.get(kind)
    return redact(f"{label}: {text}" + (f" ({fix})" if fix else ""))


def classify_provider_error(exc: BaseException) -> ModelError:
    """The :class:`ModelError` for ``exc``: kind, retry verdict, status and ``Retry-After``.

    A cause that says more than the outer exception wins: litellm's 500 around a refused
    connection is a ``connection`` error, around "Missing credentials" an ``auth`` error, around
    a JSON decode error a ``malformed`` reply. An exception of no provider type gets kind
    ``"error"`` and is not retryable.
    """
    if isinstance(exc, ModelError):
        return exc
    chain = _chain(exc)
    outer = _kind_of(exc)
    chosen, source = outer, exc
    if outer is None or outer[0] == "server_error":
        for cause in chain[1:]:
            found = _kind_of(cause)
            if found is not None:
                chosen, source = found, cause
                break
    if chosen == outer and "'choices'" in str(exc):
        chosen = ("malformed", True)
    status_value = getattr(source, "status_code", None)
    status = status_value if isinstance(status_value, int) else None
    if chosen is None:
        return ModelError(
            redact(f"{type(exc).__name__}: {exc}"), kind="error", retryable=False, status=status
        )
    kind, retryable = chosen
    return ModelError(
        _message(kind, exc, status),
        kind=kind,
        retryable=retryable,
        status=status,
        retry_after=retry_after_seconds(exc) if kind in {"rate_limit", "server_error"} else None,
    )
