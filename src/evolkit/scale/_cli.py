"""Command-line options for scaling out ``evolkit evolve``: ``--router-config``, ``--ray``,
``--workers``.

``add_scale_arguments(parser)`` adds the options to the ``evolve`` parser; ``scale_setup(args,
params)`` applies them: it puts the router config into the model parameters (and picks the
``router/...`` model when ``--model`` was not given) and returns the :class:`RayExecutor` for
``--ray`` or ``--workers N`` (without ``--ray``: a private Ray instance on this machine), or
``None``. Use the executor in a ``with`` block so its workers stop at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evolkit.backends._router_config import load_router_config
from evolkit.errors import ConfigError
from evolkit.scale.executor import RayExecutor

__all__ = ["add_scale_arguments", "scale_setup"]


def add_scale_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--router-config``, ``--ray [ADDRESS]`` and ``--workers`` to ``parser``."""
    group = parser.add_argument_group("scale out")
    group.add_argument(
        "--router-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="litellm Router config (.toml/.yaml) with several deployments; the model is "
        "router/<group> (default: the file's default group)",
    )
    group.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="evolve on Ray workers: a private local instance, or a cluster address "
        "('auto', 'ray://head:10001'); --concurrency is then per worker",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="evolve in N worker processes on this machine (Ray's local mode), or on N Ray "
        "workers with --ray (default 2); --concurrency is then per worker",
    )


def scale_setup(args: argparse.Namespace, params: dict[str, Any]) -> RayExecutor | None:
    """Apply the scale-out options to ``args`` and the model ``params``; the executor or None."""
    config = getattr(args, "router_config", None)
    if config is not None:
        params["router_config"] = str(config)
        if getattr(args, "model", None) is None:
            args.model = f"router/{load_router_config(config).group()}"
    address = getattr(args, "ray", None)
    workers = getattr(args, "workers", None)
    if address is None:
        if workers is None:
            return None
        address = "local"  # N processes on this machine
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return RayExecutor(
        None if address == "local" else address,
        workers=workers or 2,
        concurrency=getattr(args, "concurrency", None) or 16,
    )
