"""The OpenAI chat-completions wire format, as far as the fake server needs it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from evolkit._types import ChatMessage

__all__ = [
    "chat_messages",
    "completion_body",
    "error_body",
    "models_body",
    "stream_chunks",
    "truncate",
    "words",
]

_ROLES = {"system", "user", "assistant"}


def words(text: str) -> int:
    """The fake token count: words separated by white space."""
    return len(text.split())


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def chat_messages(raw: Any) -> list[ChatMessage]:
    """The request's messages as evolkit :class:`ChatMessage` dicts (text content only).

    Raises ``ValueError`` when ``raw`` is not a list of messages.
    """
    if not isinstance(raw, list) or not raw:
        raise ValueError("'messages' must be a non-empty list")
    out: list[ChatMessage] = []
    for message in raw:
        if not isinstance(message, Mapping):
            raise ValueError("every message must be an object with 'role' and 'content'")
        role = str(message.get("role", "user"))
        if role not in _ROLES:
            role = "user"
        out.append(cast(ChatMessage, {"role": role, "content": _text(message.get("content"))}))
    return out


def truncate(text: str, max_tokens: Any) -> tuple[str, str]:
    """Cut ``text`` to ``max_tokens`` words; returns (text, finish_reason)."""
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        parts = text.split()
        if len(parts) > max_tokens:
            return " ".join(parts[:max_tokens]), "length"
    return text, "stop"


def completion_body(
    *, request_id: str, model: str, text: str, finish_reason: str, prompt_tokens: int
) -> dict[str, Any]:
    """A ``chat.completion`` object with one choice and word-counted ``usage``."""
    completion_tokens = words(text)
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "evolkit-fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(message: str, type_: str, code: str | None = None) -> bytes:
    """An OpenAI-style error body."""
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


def models_body(models: Sequence[str]) -> bytes:
    """The ``/v1/models`` list."""
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "evolkit"} for m in models]
    return json.dumps({"object": "list", "data": data}).encode()


def _event(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def stream_chunks(body: Mapping[str, Any], include_usage: bool, pieces: int = 4) -> Iterator[bytes]:
    """Server-sent events that stream the completion ``body`` built by :func:`completion_body`."""
    choice = body["choices"][0]
    text: str = choice["message"]["content"]
    base = {
        "id": body["id"],
        "object": "chat.completion.chunk",
        "created": body["created"],
        "model": body["model"],
        "system_fingerprint": body["system_fingerprint"],
    }

    def chunk(delta: Mapping[str, Any], finish: str | None) -> bytes:
        choices = [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}]
        return _event({**base, "choices": choices})

    yield chunk({"role": "assistant", "content": ""}, None)
    tokens = text.split(" ")
    step = max(1, -(-len(tokens) // pieces))
    for start in range(0, len(tokens), step):
        piece = " ".join(tokens[start : start + step])
        yield chunk({"content": piece if start == 0 else " " + piece}, None)
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield _event({**base, "choices": [], "usage": body["usage"]})
    yield b"data: [DONE]\n\n"
