"""Import litellm lazily, offline-safe, with targeted warning filters installed once."""

from __future__ import annotations

import os
import warnings
from types import ModuleType

__all__ = ["import_litellm", "install_warning_filters"]

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
