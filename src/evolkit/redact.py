"""Remove secrets (API keys, bearer tokens) from text before it is shown or stored."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["is_secret_name", "public_params", "redact"]

_MASK = "[redacted]"
_PATTERNS = (
    # Authorization headers and bearer tokens.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    # key=value / "key": "value" for names that hold secrets.
    re.compile(
        r"(?i)([\"']?\b(?:api[_-]?key|access[_-]?token|secret|password|x-api-key|"
        r"authorization)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]{4,})"
    ),
    # Provider key shapes: sk-..., sk-ant-..., hf_..., AIza..., gsk_..., xai-...
    re.compile(
        r"\b(?:sk-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{20,}|"
        r"gsk_[A-Za-z0-9]{16,}|xai-[A-Za-z0-9]{16,})"
    ),
)
_ENV_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_HEADER_HINTS = ("AUTHORIZATION",)


def is_secret_name(name: str) -> bool:
    """Whether a setting or variable called ``name`` holds a secret (``api_key``,
    ``OPENAI_API_KEY``, ``access_token``, ``Authorization``...)."""
    upper = name.upper()
    return any(hint in upper for hint in (*_ENV_HINTS, *_HEADER_HINTS))


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the settings that hold secrets (nested mappings too)."""
    return {
        k: public_params(v) if isinstance(v, Mapping) else v
        for k, v in params.items()
        if not is_secret_name(str(k))
    }


def _env_secrets() -> list[str]:
    """Values of environment variables whose names say they are secrets (longest first)."""
    found = {
        value
        for name, value in os.environ.items()
        if any(hint in name.upper() for hint in _ENV_HINTS) and len(value) >= 8
    }
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with API keys, bearer tokens and secret environment values masked."""
    for secret in _env_secrets():
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {_MASK}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{_MASK}", text)
    return _PATTERNS[2].sub(_MASK, text)
