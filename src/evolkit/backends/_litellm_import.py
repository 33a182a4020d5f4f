"""Import litellm lazily, offline-safe."""

from __future__ import annotations

import os
import warnings
from types import ModuleType

__all__ = ["import_litellm"]


def import_litellm() -> ModuleType:
    """Import litellm without touching the network.

    litellm downloads its model price map at import unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is
    set, which hangs on a machine without network; evolkit sets it (unless the user already did)
    right before the first import, never at ``import evolkit``.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        # litellm's import emits deprecation warnings from its own dependencies.
        warnings.simplefilter("ignore")
        import litellm
    litellm.suppress_debug_info = True
    return litellm
