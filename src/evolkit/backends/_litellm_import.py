"""Import litellm lazily, offline-safe, with targeted warning filters installed once; read
its replies."""

from __future__ import annotations

import os
import warnings
from types import ModuleType
from typing import Any

from evolkit._types import Completion, Usage
from evolkit.errors import ModelError

__all__ = ["completion_from_response", "import_litellm", "install_warning_filters"]

#: (message regex, category, module regex) of warnings litellm's own code triggers on every
#: call: pydantic deprecations and serializer notes inside litellm, its dependencies' own
#: deprecations. Only these are silenced, and only where they come from; a user's warnings
#: (and every other warning) print as before.
_FILTERS: tuple[tuple[str, type[Warning], str], ...] = (
    ("", DeprecationWarning, r"(litellm|pydantic|httpx|aiohttp|openai)(\..*)?$"),
    (r"(?s).*Pydantic serializer warnings", UserWarning, r"pydantic(\..*)?$"),
    # pydantic's note on litellm's TypedDicts, when litellm imports its types lazily mid-call.
    (r"Item '\w+' on TypedDict class '\w+' is using the `ReadOnly` qualifier", UserWarning, ""),
    # litellm creates a provider coroutine per call; one cancelled by a timeout before it
    # started is collected unawaited, and the warning is raised wherever the collector runs.
    (r"coroutine '\w+\.acompletion' was never awaited", RuntimeWarning, ""),
)


def install_warning_filters() -> None:
    """Add evolkit's targeted filters to ``warnings.filters`` unless they are there already.

    Called where litellm is imported, never around an ``await``: entering and leaving
    ``warnings.catch_warnings()`` from concurrent calls restores the process-wide filter list
    out of order.
    """
    for message, category, module in _FILTERS:
        present = any(
            f[0] == "ignore"
            and (f[1].pattern if f[1] is not None else "") == message
            and f[2] is category
            and (f[3].pattern if f[3] is not None else "") == module
            for f in warnings.filters
        )
        if not present:
            warnings.filterwarnings("ignore", message, category, module)


def import_litellm() -> ModuleType:
    """Import litellm without touching the network.

    litellm downloads its model price map at import unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is
    set, which hangs on a machine without network; evolkit sets it (unless the user already did)
    right before the first import, never at ``import evolkit``.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    install_warning_filters()
    with warnings.catch_warnings():
        # litellm's import emits deprecation warnings from its own dependencies (synchronous
        # code: no await inside, so the saved filter list is restored in order).
        warnings.simplefilter("ignore")
        import litellm

    litellm.suppress_debug_info = True
    return litellm


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
