"""Constrained replies (``--structured``): whether a run uses them, and reading one.

A backend that can constrain decoding says so through
:class:`~evolkit._protocols.ConstrainedBackend`; a call that declares the shape of its reply
(:class:`~evolkit._shapes.ReplyShape`: an operator through
:class:`~evolkit._protocols.ShapedMutator`, a judge or a scorer by itself) then adds the
backend's :meth:`~evolkit._protocols.ConstrainedBackend.constraint` to its parameters and reads
the reply as JSON. A reply that does not fit is a parse failure like any other, counted under
``unfit_reply:<why>`` (see :class:`~evolkit._shapes.ShapeMismatch`).
"""

from __future__ import annotations

import argparse
from typing import Any

from evolkit._protocols import Backend, ConstrainedBackend, ShapedMutator
from evolkit._shapes import ReplyShape, ShapeMismatch
from evolkit._types import Instruction, Rejected
from evolkit.errors import ConfigError

__all__ = [
    "UNFIT_REPLY",
    "add_structured_argument",
    "constrainer",
    "read_shaped",
    "resolve_structured",
    "unfit_reason",
]

#: The reason (before ``:<why>``) a reply that does not fit its shape is counted under.
UNFIT_REPLY = "unfit_reply"


def _constrains(backend: Backend) -> bool:
    return isinstance(backend, ConstrainedBackend) and bool(backend.constrains)


def resolve_structured(mode: str, backend: Backend) -> str:
    """``mode`` (``auto``, ``on``, ``off``) for ``backend``: ``"on"`` when its replies will be
    constrained, else ``mode`` as it was (``auto`` with a backend that cannot stays ``auto``).

    ``on`` with a backend that cannot constrain its replies is a :class:`ConfigError`.
    """
    if mode == "off":
        return "off"
    if _constrains(backend):
        return "on"
    if mode == "on":
        raise ConfigError(
            f"--structured on: the backend of {backend.model!r} cannot constrain replies to a "
            "schema (use --structured auto or off, or a backend that can: an OpenAI-compatible "
            "server, the embedded model, or a litellm model with response_format support)"
        )
    return mode


def constrainer(mode: str, backend: Backend) -> ConstrainedBackend | None:
    """``backend`` when a run with ``structured=mode`` constrains its replies, else ``None``."""
    if mode != "off" and isinstance(backend, ConstrainedBackend) and backend.constrains:
        return backend
    return None


def unfit_reason(mismatch: ShapeMismatch) -> str:
    """The counted reason of a reply that does not fit its shape."""
    return f"{UNFIT_REPLY}:{mismatch.reason}"


def read_shaped(
    mutator: ShapedMutator, shape: ReplyShape, reply: str, parent: Instruction
) -> Instruction | Rejected:
    """The instruction in a JSON ``reply`` of ``shape``, or why there is none: a reply that
    does not fit is ``Rejected("unfit_reply:<why>")``."""
    fields: dict[str, Any] | ShapeMismatch = shape.read(reply)
    if isinstance(fields, ShapeMismatch):
        return Rejected(unfit_reason(fields))
    return mutator.parse_shaped(fields, parent)


def add_structured_argument(parser: argparse.ArgumentParser) -> None:
    """``--structured auto|on|off`` for a command that calls a model."""
    from evolkit.engine.config import STRUCTURED

    parser.add_argument(
        "--structured",
        choices=list(STRUCTURED),
        default="off",
        help="constrain each reply to the JSON shape its call declares (a rewrite, a verdict, "
        "a score): 'auto' where the backend can, 'on' always, 'off' never (the default)",
    )
