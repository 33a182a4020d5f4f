"""Batch mode and the budget, attached to a run's call runner."""

from __future__ import annotations

import contextlib

from evolkit._protocols import Backend
from evolkit.batch._types import BatchBackend
from evolkit.engine.calls import CallRunner
from evolkit.engine.config import DEFAULT_CONCURRENCY, EvolveConfig
from evolkit.errors import ConfigError

__all__ = ["attach_cost_controls", "item_window"]


def item_window(cfg: EvolveConfig) -> int:
    """Pool items in progress at once: a whole stage of a round shares a batch in batch mode.

    ``cfg`` is a fitted config (:meth:`EvolveConfig.fitted`), so its concurrency is known.
    """
    if cfg.batch is not None:
        return cfg.batch.window
    return (cfg.concurrency or DEFAULT_CONCURRENCY) * 4


async def attach_cost_controls(
    cfg: EvolveConfig,
    backend: Backend,
    runner: CallRunner,
    progress: object,
    stack: contextlib.AsyncExitStack,
    executor: object | None = None,
) -> None:
    """Give ``runner`` a budget (``max_cost``) and a batcher (``batch``) as the settings ask.

    Both work on this process's calls, so neither goes with an ``executor`` that spreads the
    evolutions over other workers (those make their own calls).
    """
    if executor is not None and (cfg.max_cost is not None or cfg.batch is not None):
        raise ConfigError(
            "--batch and --max-cost work on the calls of one process: run them without "
            "--ray / --workers (or without a custom executor)"
        )
    if cfg.max_cost is not None:
        from evolkit.backends._prices import prices_for
        from evolkit.engine.budget import Budget

        prices = prices_for(backend.model)
        if not prices.known:
            raise ConfigError(
                f"--max-cost needs the model's prices, and litellm's price map has none for "
                f"{backend.model!r}: use a model it prices, or run without --max-cost"
            )
        runner.budget = Budget(cfg.max_cost, prices, batch=cfg.batch is not None)
    if cfg.batch is None:
        return
    if not isinstance(backend, BatchBackend):
        raise ConfigError(
            f"batch mode needs a backend with a provider batch API (a litellm model such as "
            f"openai/gpt-4o-mini); {backend!r} has none: run it without --batch"
        )
    from evolkit.engine.batch_store import BatchStore
    from evolkit.engine.batcher import Batcher
    from evolkit.engine.progress import BatchProgress

    store = BatchStore(runner.journal.path)
    stack.callback(store.close)
    batcher = Batcher(
        backend.batch_client(),
        runner.journal,
        store,
        cfg.batch,
        retries=cfg.retries,
        counters=runner.counters,
        on_change=progress.batches if isinstance(progress, BatchProgress) else None,
    )
    stack.push_async_callback(batcher.aclose)
    await batcher.start()
    runner.batcher = batcher


def cost_report(runner: CallRunner) -> dict[str, object]:
    """The run report's ``batch`` and ``budget`` sections (empty when neither was used)."""
    report: dict[str, object] = {}
    if runner.batcher is not None:
        report["batch"] = {
            **runner.batcher.store.counts(),
            "cost_at": "batch prices",
            "batches_seen": [
                {
                    "id": v.batch_id,
                    "status": v.status,
                    "requests": v.requests,
                    "completed": v.completed,
                    "failed": v.failed,
                }
                for v in runner.batcher.views.values()
            ],
        }
    if runner.budget is not None:
        report["budget"] = {"max_cost": runner.budget.limit, "spent": runner.budget.spent}
    return report
