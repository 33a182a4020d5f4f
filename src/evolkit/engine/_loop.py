"""Run a coroutine to completion from synchronous code, also inside a running event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from evolkit.engine.interrupts import run_main

__all__ = ["blocking", "run_sync"]

T = TypeVar("T")
P = ParamSpec("P")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop (:func:`~evolkit.engine.interrupts.run_main`: the one
    place where Ctrl-C and SIGTERM stop a run), or, when a loop already runs in this thread
    (Jupyter, an async web app), on a fresh loop in a worker thread until it is done."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_main(coro)

    result: list[T] = []
    error: list[BaseException] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            result.append(context.run(asyncio.run, coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="evolkit-run", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def blocking(fn: Callable[P, Coroutine[Any, Any, T]], name: str) -> Callable[P, T]:
    """The blocking form of the coroutine function ``fn``, named ``name``: the same
    parameters, run to the end with :func:`run_sync` (so inside a running loop too)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(fn(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = (
        f"Blocking :func:`{fn.__name__}`; works inside a running event loop (Jupyter) too."
    )
    return call
