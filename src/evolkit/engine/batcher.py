"""The batching layer under :class:`~evolkit.engine.calls.CallRunner`.

In batch mode every model call of a round still goes through the runner with its journal key;
instead of sending it, the runner hands it here. The calls that the round's items make at
about the same time (one stage of a round: the rewrites, then the answers, then the judge
calls) are collected until none has arrived for ``quiet`` seconds or a provider limit is
reached, written as one JSONL file with ``custom_id`` = journal key, uploaded, and started
as a provider batch. The file id (with its keys) and then the batch id are committed to the
journal database before anything waits on the provider. Each batch is polled with growing
intervals; when it ends, its answers are journaled and handed to the waiting calls, and
requests that expired or failed with a retryable error are sent again in a new batch (up to
the run's ``retries``). A restarted run adopts every batch not yet collected and sends again
only what the provider did not answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from attrs import frozen

from evolkit._types import ChatMessage, Completion
from evolkit.batch._types import BatchClient, BatchJob, BatchResult, BatchSettings
from evolkit.engine.batch_store import BatchStore, StoredJob
from evolkit.engine.calls import CallCounters
from evolkit.engine.journal import Journal
from evolkit.engine.retry import RetryPolicy, retrying
from evolkit.errors import BackendError, ModelError

__all__ = ["BatchView", "Batcher"]

T = TypeVar("T")


@frozen
class BatchView:
    """One batch as the progress display shows it."""

    batch_id: str
    status: str
    requests: int
    completed: int
    failed: int
    submitted: float

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.submitted)


class Batcher:
    """Collects calls into provider batches and answers each call from its batch."""

    def __init__(
        self,
        client: BatchClient,
        journal: Journal,
        store: BatchStore,
        settings: BatchSettings,
        *,
        retries: int,
        counters: CallCounters,
        on_change: Callable[[Sequence[BatchView]], None] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.store = store
        self.settings = settings
        self.retries = retries
        self.counters = counters
        self.on_change = on_change
        self.views: dict[str, BatchView] = {}
        self._futures: dict[str, asyncio.Future[Completion]] = {}
        self._lines: dict[str, bytes] = {}
        self._open: dict[str, str] = {}  # journal key -> input file of its open batch
        self._queue: dict[str, bytes] = {}
        self._queue_bytes = 0
        self._last_arrival = 0.0
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the call path ---------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt the batches an earlier run submitted and did not collect."""
        for job in self.store.open_jobs():
            for key in job.keys:
                self._open[key] = job.file_id
            self.counters.in_flight += len(job.keys)
            self._spawn(self._resume(job), job.keys)

    async def complete(
        self, key: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]
    ) -> Completion:
        """The completion for ``key``, journaled, once its batch has answered it."""
        future = self._futures.get(key)
        if future is None:
            done = self.journal.get(key)
            if done is not None:
                return done
            future = asyncio.get_running_loop().create_future()
            self._futures[key] = future
            self._lines[key] = self.client.request_line(key, messages, params)
            if key not in self._open:
                self._submit_or_fail(key)
        return await asyncio.shield(future)

    def _submit_or_fail(self, key: str) -> None:
        attempts, error = self.store.history(key)
        if error is not None and (not error.retryable or attempts > self.retries):
            self._fail(key, error)
            return
        if attempts:
            self.counters.retries += 1
        self._enqueue(key)

    def _resolve(self, key: str, completion: Completion) -> None:
        future = self._futures.pop(key, None)
        self._lines.pop(key, None)
        if future is not None and not future.done():
            future.set_result(completion)

    def _fail(self, key: str, error: BaseException) -> None:
        future = self._futures.pop(key, None)
        self._lines.pop(key, None)
        if future is not None and not future.done():
            future.set_exception(error)

    # -- collecting and submitting ---------------------------------------------------------

    def _enqueue(self, key: str) -> None:
        line = self._lines[key]
        full = len(self._queue) >= self.settings.max_requests
        if self._queue and (full or self._queue_bytes + len(line) > self.settings.max_bytes):
            self._flush()
        self._queue[key] = line
        self._queue_bytes += len(line)
        self._last_arrival = time.monotonic()
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_when_quiet())

    async def _flush_when_quiet(self) -> None:
        while self._queue:
            wait = self._last_arrival + self.settings.quiet - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                self._flush()

    def _flush(self) -> None:
        items, self._queue, self._queue_bytes = list(self._queue.items()), {}, 0
        keys = tuple(key for key, _ in items)
        self._spawn(self._submit(keys, b"".join(line for _, line in items)), keys)

    async def _submit(self, keys: tuple[str, ...], content: bytes) -> None:
        file_id = await self._retrying(self.client.upload, content)
        await self.store.record_upload(file_id, keys, len(content))
        for key in keys:
            self._open[key] = file_id
        self.counters.sent += len(keys)
        self.counters.in_flight += len(keys)
        job = await self._retrying(self.client.create, file_id, self.settings.completion_window)
        await self.store.record_batch(file_id, job.id, job.status)
        await self._watch(file_id, keys, job)

    async def _resume(self, stored: StoredJob) -> None:
        if stored.batch_id is None:
            # Killed between starting the batch and recording its id: find it, or start it.
            job = await self._retrying(self.client.find, stored.file_id)
            if job is None:
                job = await self._retrying(
                    self.client.create, stored.file_id, self.settings.completion_window
                )
            await self.store.record_batch(stored.file_id, job.id, job.status)
        else:
            job = await self._retrying(self.client.retrieve, stored.batch_id)
        await self._watch(stored.file_id, stored.keys, job, stored.submitted)

    # -- waiting and collecting ------------------------------------------------------------

    async def _watch(
        self, file_id: str, keys: Sequence[str], job: BatchJob, submitted: float | None = None
    ) -> None:
        submitted = submitted if submitted is not None else time.time()
        delay = self.settings.poll
        while True:
            self._show(file_id, job, len(keys), submitted)
            if job.finished:
                break
            await asyncio.sleep(delay)
            delay = min(self.settings.poll_max, delay * 1.5)
            status = job.status
            job = await self._retrying(self.client.retrieve, job.id)
            if job.status != status:
                await self.store.record_status(file_id, job.status)
        await self._collect(file_id, keys, job)

    async def _collect(self, file_id: str, keys: Sequence[str], job: BatchJob) -> None:
        results: dict[str, BatchResult] = {}
        for result_file in (job.output_file_id, job.error_file_id):
            if result_file:
                for result in await self._retrying(self.client.results, result_file):
                    results[result.key] = result
        answered: list[tuple[str, Completion]] = []
        outcomes: dict[str, ModelError | None] = {}
        for key in keys:
            found = results.get(key)
            if found is not None and found.completion is not None:
                answered.append((key, found.completion))
                outcomes[key] = None
            else:
                outcomes[key] = (found.error if found is not None else None) or ModelError(
                    f"batch {job.id} ended {job.status} without answering this request",
                    kind="expired" if job.status == "expired" else "batch_error",
                    retryable=True,
                )
        # Journal first: a collection repeated after a crash finds these and skips them.
        fresh = [(key, c) for key, c in answered if self.journal.get(key) is None]
        await asyncio.gather(*(self.journal.append(key, c) for key, c in fresh))
        await self.store.record_collected(file_id, job.status, outcomes)
        self._close_job(file_id, keys)
        for key, completion in answered:
            self._resolve(key, completion)
        for key, error in outcomes.items():
            if error is not None and key in self._futures:
                self._submit_or_fail(key)

    def _close_job(self, file_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            if self._open.get(key) == file_id:
                del self._open[key]
        self.counters.in_flight -= len(keys)

    def _show(self, file_id: str, job: BatchJob, requests: int, submitted: float) -> None:
        view = BatchView(job.id, job.status, requests, job.completed, job.failed, submitted)
        if self.views.get(file_id) != view:
            self.views[file_id] = view
            if self.on_change is not None:
                self.on_change(tuple(self.views.values()))

    # -- plumbing --------------------------------------------------------------------------

    async def _retrying(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(*args)`` through the engine's one retry loop, the waits doubling from twice
        ``poll`` seconds up to ``poll_max`` (the batch endpoints are called rarely)."""
        policy = RetryPolicy(
            retries=self.retries, backoff=2 * self.settings.poll, backoff_max=self.settings.poll_max
        )
        return await retrying(lambda: fn(*args), policy)

    def _spawn(self, work: Awaitable[None], keys: Sequence[str]) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # reaches every call waiting on this batch
                failure = exc
                if isinstance(exc, ModelError):
                    # The batch endpoints failing stops the run (it is not one request's
                    # fault); a restart finds the batch again in the journal.
                    failure = BackendError(
                        f"the provider's batch API failed: {exc}; every answered call is "
                        "saved: run the same command again to go on"
                    )
                for key in keys:
                    self._fail(key, failure)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop waiting (the provider's batches go on; a restart collects them)."""
        pending = [t for t in [self._timer, *self._tasks] if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
