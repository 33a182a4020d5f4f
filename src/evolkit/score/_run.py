"""``score`` and ``ascore``: every row of a data set scored, the scores written into its metadata.

Model calls go through the engine's :class:`~evolkit.engine.calls.CallRunner` and
:class:`~evolkit.engine.journal.Journal`, built as an evolution run builds them: bounded
concurrency, retries, rate limits, the shared response cache, and a journal in the work
directory of the file written (``OUT.evolkit/score-journal.sqlite``), locked like an evolution
run's, so an interrupted scoring run resumes without paying for a call twice and two never
write one file at once. Rows are streamed in file order through a bounded window; the output is
written atomically when every row is done (by default over the input).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from evolkit._plugins import Plugins, default_plugins
from evolkit._protocols import Backend, PreparedScorer, Scorer
from evolkit._shapes import ReplyShape
from evolkit._types import ChatMessage, Completion, Instruction, ScoreFailure, ScoreItem, Usage
from evolkit.engine._loop import run_sync
from evolkit.engine.cache import scope_digest, scoped_cache
from evolkit.engine.calls import CallRunner, open_stores
from evolkit.engine.config import DEFAULT_CONCURRENCY, EvolveConfig, split_names
from evolkit.engine.lock import writing
from evolkit.engine.ordered import ordered_map
from evolkit.engine.plan import fit_to_backend
from evolkit.engine.preflight import (
    check_data_file,
    check_output_file,
    oversize,
    refuse_output_over_input,
)
from evolkit.engine.run import _build_config, _open_backend
from evolkit.engine.structured import constrainer
from evolkit.engine.workdir import WorkDir
from evolkit.errors import EvolkitError, ModelError
from evolkit.io import atomic_writer
from evolkit.score._rows import RowFile
from evolkit.score._summary import FAILURES_KEY, SCORES_KEY, ScoreReport, TableBuilder

__all__ = ["ascore", "score", "score_report_path", "select_scorers"]

JOURNAL_NAME = "score-journal.sqlite"


def score_report_path(output: str | os.PathLike[str]) -> Path:
    """``OUT.scores.json``: the counts, means and cost of the last scoring of ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".scores.json")


def select_scorers(plugins: Plugins, names: Sequence[str] | str | None) -> list[Scorer]:
    """Scorers by name (``"difficulty,quality"``); None: the registered defaults."""
    registry = plugins.scorers()
    names = split_names(names)
    wanted = registry.defaults() if names is None else list(dict.fromkeys(names))
    return [registry.get(name) for name in wanted]


class _ScoringBackend:
    """What a scorer sees as its backend: calls go through the runner and are counted; it
    constrains replies (:class:`~evolkit._protocols.ConstrainedBackend`) when the run does."""

    def __init__(
        self, runner: CallRunner, usage: dict[str, Usage], scorer: str, structured: str = "off"
    ) -> None:
        self._runner = runner
        self._usage = usage
        self._scorer = scorer
        self.model = runner.backend.model
        self._constrainer = constrainer(structured, runner.backend)

    @property
    def constrains(self) -> bool:
        return self._constrainer is not None

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        return self._constrainer.constraint(shape) if self._constrainer is not None else {}

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        completion, _ = await self._runner.call(messages, params)
        self._usage[self._scorer] = self._usage.get(self._scorer, Usage()) + completion.usage
        return completion


class _NoModel:
    """The backend of a run whose scorers need no model: any call is a counted failure."""

    model = "none"

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        raise ModelError("this scorer asked for a model, but none was set up", kind="no_model")


async def _one(scorer: Scorer, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
    try:
        value = await scorer.score(item, backend)
    except ModelError as exc:
        return ScoreFailure(f"model_error:{exc.kind}", str(exc)[:200])
    except (OSError, sqlite3.Error, EvolkitError):
        raise  # the run's own files (a full disk), a stopped run: not the scorer's failure
    except Exception as exc:  # a bug in a third-party scorer is a counted failure, not a crash
        return ScoreFailure("scorer_error", f"{type(exc).__name__}: {exc}"[:200])
    if isinstance(value, ScoreFailure):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return ScoreFailure("scorer_error", f"not a number: {value!r}"[:200])
    return float(value)


def _with_scores(row: Instruction, results: Mapping[str, float | ScoreFailure]) -> Instruction:
    scores = dict(row.metadata.get(SCORES_KEY) or {})
    failures = dict(row.metadata.get(FAILURES_KEY) or {})
    for name, value in results.items():
        if isinstance(value, ScoreFailure):
            scores.pop(name, None)
            failures[name] = value.reason
        else:
            scores[name] = value
            failures.pop(name, None)
    metadata = {**row.metadata, SCORES_KEY: scores}
    metadata.pop(FAILURES_KEY, None)
    if failures:
        metadata[FAILURES_KEY] = failures
    return attrs.evolve(row, metadata=metadata)


def _runner(
    stack: contextlib.AsyncExitStack,
    backend: Backend,
    workdir: Path,
    cfg: EvolveConfig,
) -> CallRunner:
    """The engine's call runner over a journal in ``workdir``, as an evolution run builds it."""
    workdir.mkdir(parents=True, exist_ok=True)
    journal, cache = open_stores(stack, workdir / JOURNAL_NAME, cfg.cache)
    runner = CallRunner.from_config(cfg, backend, journal, scoped_cache(cache, backend))
    runner.run_id = scope_digest(backend)  # another server or model: other journal keys too
    return runner


async def _score_rows(
    rows: RowFile,
    chosen: Sequence[Scorer],
    runner: CallRunner,
    target: Path,
    window: int,
    progress: Callable[[int, int], None] | None,
    structured: str = "off",
    max_chars: int | None = None,
) -> ScoreReport:
    """Score ``rows`` in order through a bounded window and write them to ``target``; a row
    longer than ``max_chars``, or with an ancestor that is (the size rule of seeds,
    :func:`oversize`), is never sent to a model: each scorer that needs one counts it failed,
    ``instruction_too_long``."""
    usage: dict[str, Usage] = {}
    backends = {s.name: _ScoringBackend(runner, usage, s.name, structured) for s in chosen}

    async def score_row(index: int, row: Instruction) -> Instruction:
        item = ScoreItem(row, rows.ancestors(row))
        reasons = () if max_chars is None else (oversize(r, max_chars) for r in item.chain)
        too_long = next((reason for reason in reasons if reason is not None), None)
        skipped = ScoreFailure("instruction_too_long", too_long or "")

        async def one(scorer: Scorer) -> float | ScoreFailure:
            if too_long is not None and scorer.needs_model:  # the row or an ancestor is too long
                return skipped
            return await _one(scorer, item, backends[scorer.name])

        values = await asyncio.gather(*(one(s) for s in chosen))
        return _with_scores(row, {s.name: v for s, v in zip(chosen, values, strict=True)})

    scored: Counter[str] = Counter()
    failures: dict[str, Counter[str]] = {s.name: Counter() for s in chosen}
    table = TableBuilder()
    with atomic_writer(target) as out:
        async for row in ordered_map(iter(rows), score_row, window):
            reasons = row.metadata.get(FAILURES_KEY) or {}
            for name in backends:
                if name in reasons:
                    failures[name][reasons[name]] += 1
                else:
                    scored[name] += 1
            out.write(json.dumps(row.to_record(), ensure_ascii=False) + "\n")
            table.add(row)
            if progress is not None:
                progress(table.rows, len(rows))
    counters = runner.counters
    return ScoreReport(
        rows=table.rows,
        scorers=tuple(backends),
        scored=dict(scored),
        failures={k: dict(v) for k, v in failures.items() if v},
        usage=usage,
        calls={
            "sent": counters.sent,
            "journal_hits": counters.journal_hits,
            "cache_hits": counters.cache_hits,
            "retries": counters.retries,
            "failures": counters.failures,
        },
        table=table.build(),
        output=str(target),
    )


async def ascore(
    data: str | os.PathLike[str],
    *,
    scores: Sequence[str] | str | None = None,
    scorers: Sequence[Scorer] | None = None,
    model: str | None = None,
    backend: Backend | None = None,
    model_params: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    plugins: Plugins | None = None,
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> ScoreReport:
    """Score every row of ``data``; see :func:`score`."""
    started = time.monotonic()
    plugins = plugins if plugins is not None else default_plugins()
    chosen = list(scorers) if scorers is not None else select_scorers(plugins, scores)
    cfg = _build_config(None, settings)
    source = Path(data)
    target = Path(output) if output is not None else source
    if output is not None:  # leaving it out writes the scores into the input, atomically
        refuse_output_over_input(target, source, fix="leave out -o to score the file in place")
    check_data_file(source, jsonl=True, fix="pass a data set (.jsonl)")  # before any lock
    check_output_file(target)  # before any call is paid for
    workdir = WorkDir.for_output(target).path  # one per output: two outputs never share one
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(writing(workdir, target))  # one writer, disk errors, temp files
        rows = stack.enter_context(RowFile(source))
        runner_backend: Backend = _NoModel()
        if any(s.needs_model for s in chosen):
            runner_backend, _ = await _open_backend(stack, plugins, backend, model, model_params)
        cfg = fit_to_backend(cfg, runner_backend)
        window = (cfg.concurrency or DEFAULT_CONCURRENCY) * 4
        runner = _runner(stack, runner_backend, workdir, cfg)
        for scorer in chosen:
            if isinstance(scorer, PreparedScorer):
                await asyncio.to_thread(scorer.prepare, iter(rows))
        report = await _score_rows(
            rows, chosen, runner, target, window, progress, cfg.structured,
            cfg.max_instruction_chars,
        )  # fmt: skip
    report = attrs.evolve(report, elapsed_s=time.monotonic() - started)
    with atomic_writer(score_report_path(target)) as fh:
        json.dump(report.to_json(), fh, indent=2)
    return report


def score(
    data: str | os.PathLike[str],
    *,
    scores: Sequence[str] | str | None = None,
    scorers: Sequence[Scorer] | None = None,
    model: str | None = None,
    backend: Backend | None = None,
    model_params: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    plugins: Plugins | None = None,
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> ScoreReport:
    """Score every row of the JSONL data set ``data`` and write the scores into its rows.

    ``scores`` names registered scorers (``"difficulty,quality"``; default: the registered
    defaults); ``scorers`` passes scorer objects instead. Each row gets
    ``metadata["scores"][name]``; a row a scorer could not score gets no value and its reason
    in ``metadata["score_failures"][name]``, counted in the returned :class:`ScoreReport`.
    ``output`` defaults to ``data`` itself (rewritten atomically). ``settings`` are the
    call settings of :class:`~evolkit.EvolveConfig`: ``concurrency``, ``timeout``,
    ``retries``, ``rpm``, ``tpm``, ``cache`` (a response-cache path, or None for none).
    ``progress(done, total)`` is called as each row is written.
    """
    return run_sync(
        ascore(
            data,
            scores=scores,
            scorers=scorers,
            model=model,
            backend=backend,
            model_params=model_params,
            output=output,
            plugins=plugins,
            progress=progress,
            **settings,
        )
    )
