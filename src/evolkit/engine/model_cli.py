"""The command line's side of the model calls: the settings every command that calls a model
gives from the same flags (``--model``, ``--api-base``, ``--concurrency``, ``--timeout``,
``--retries``, ``--cache``)."""

from __future__ import annotations

import argparse
from typing import Any

from evolkit._arguments import flag_values
from evolkit.engine.cache import cache_path

__all__ = ["model_params", "model_settings"]


def model_params(args: argparse.Namespace) -> dict[str, Any] | None:
    """The backend parameters ``--api-base`` gives, or None without it."""
    return {"api_base": args.api_base} if args.api_base else None


def model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The model, its parameters and the call settings of a command that calls a model, the
    cache resolved from ``--cache`` (a path, or None for ``off``)."""
    return {
        "model": args.model,
        "model_params": model_params(args),
        "cache": cache_path(args.cache),
        **flag_values(args, "concurrency", "timeout", "retries"),
    }
