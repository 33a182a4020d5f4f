"""Keep the garbage collector off the objects that exist before a run starts.

A process that imported litellm, torch or pandas holds hundreds of thousands of long-lived
objects (litellm alone: about 300,000), and every full collection walks all of them; at
hundreds of calls a second, with each call allocating a few hundred short-lived containers,
those walks cost more CPU than the engine itself (0.2 ms of 0.5 ms per call against a loopback
server, ``benchmarks/engine_throughput.py``). :func:`frozen_heap` moves what exists at the start
of a run into the permanent generation for the run's duration (``gc.freeze``), and back at the
end; objects made during the run are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]

_depth = 0  # runs in progress in this process (several may share one event loop)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the objects that exist now for the ``with`` block; unfreeze when the last ends."""
    global _depth
    gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
