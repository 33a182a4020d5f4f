"""Remove secrets (API keys, bearer tokens) from text before it is shown or stored.

Secrets are masked by value, whatever their shape: every key the process was given (the
values of environment variables named as secrets, and every value under a secret name in the
parameters a backend was built with, router configs included, see :func:`remember_secrets`),
then anything that looks like a key or a bearer token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["is_secret_name", "public_params", "redact", "remember_secrets"]

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


#: Shorter values are not masked: they would mask ordinary words and numbers.
_MIN_SECRET = 6
_NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "off", "on"})
_given: set[str] = set()


def _is_secret_value(value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    return (
        len(text) >= _MIN_SECRET
        and text.lower() not in _NOT_SECRETS
        and not text.startswith("os.environ/")  # a router config's reference, not the key
    )


def remember_secrets(params: object) -> None:
    """Mask from now on every value found under a secret name (``api_key``, ``token``...) in
    ``params``, searched through nested mappings and lists (a router config's deployments).
    Every backend built from parameters is registered here (the backend registry)."""
    if isinstance(params, Mapping):
        for key, value in params.items():
            if is_secret_name(str(key)) and _is_secret_value(value):
                _given.add(str(value).strip())
            else:
                remember_secrets(value)
    elif isinstance(params, (list, tuple)):
        for item in params:
            remember_secrets(item)


def _secrets() -> list[str]:
    """The keys to mask by value, longest first: those given (:func:`remember_secrets`) and
    the values of environment variables whose names say they are secrets."""
    found = set(_given)
    found.update(
        value.strip()
        for name, value in os.environ.items()
        if is_secret_name(name) and _is_secret_value(value)
    )
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every key given to the process, API keys and bearer tokens masked."""
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {_MASK}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{_MASK}", text)
    return _PATTERNS[2].sub(_MASK, text)
