"""Batch mode's value types and the two small protocols a batching provider implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
from attrs import field, frozen

from evolkit._types import ChatMessage, Completion
from evolkit.errors import ModelError

__all__ = [
    "TERMINAL_STATES",
    "BatchBackend",
    "BatchClient",
    "BatchJob",
    "BatchResult",
    "BatchSettings",
    "to_batch_settings",
]

#: Provider batch states after which nothing more will be answered.
TERMINAL_STATES = frozenset({"completed", "expired", "failed", "cancelled"})


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"batch {attribute.name} must be > 0, got {value}")


@frozen(kw_only=True)
class BatchSettings:
    """How batch mode collects, splits and polls.

    ``max_requests`` and ``max_bytes`` are the provider's limits per batch (OpenAI: 50,000
    requests, a 200 MB input file); a larger set of requests is split. Requests are sent once no
    new one has arrived for ``quiet`` seconds (or a limit is reached). Batches are polled every
    ``poll`` seconds, growing by half each time up to ``poll_max``. ``window`` is how many pool
    items are in progress at once (the requests of one stage of a round share a batch), and
    ``completion_window`` the provider's answer window.
    """

    max_requests: int = field(default=50_000, validator=_positive)
    max_bytes: int = field(default=200 * 1024 * 1024, validator=_positive)
    quiet: float = field(default=2.0, validator=_positive)
    poll: float = field(default=15.0, validator=_positive)
    poll_max: float = field(default=300.0, validator=_positive)
    window: int = field(default=50_000, validator=_positive)
    completion_window: str = "24h"


def to_batch_settings(
    value: BatchSettings | Mapping[str, Any] | bool | None,
) -> BatchSettings | None:
    """``batch=True`` (the defaults), a mapping of settings, a :class:`BatchSettings`, or off."""
    if value is None or value is False:
        return None
    if value is True:
        return BatchSettings()
    if isinstance(value, BatchSettings):
        return value
    if isinstance(value, Mapping):
        return BatchSettings(**dict(value))
    raise ValueError(f"batch must be True, False or batch settings, got {value!r}")


@frozen(kw_only=True)
class BatchJob:
    """A provider batch as last seen: its state and request counts."""

    id: str
    status: str
    input_file_id: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    created_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATES


@frozen
class BatchResult:
    """One answered line of a batch's output or error file."""

    key: str
    completion: Completion | None
    error: ModelError | None = None


@runtime_checkable
class BatchClient(Protocol):
    """A provider's files and batches endpoints, for one model."""

    def request_line(
        self, key: str, messages: Sequence[ChatMessage], params: Mapping[str, Any]
    ) -> bytes:
        """The JSONL line (newline included) asking for ``messages``, tagged with ``key``."""
        ...

    async def upload(self, content: bytes) -> str:
        """Upload a JSONL file of request lines; returns its file id."""
        ...

    async def create(self, file_id: str, completion_window: str) -> BatchJob:
        """Start a batch over an uploaded file."""
        ...

    async def retrieve(self, batch_id: str) -> BatchJob:
        """The batch's current state."""
        ...

    async def find(self, file_id: str) -> BatchJob | None:
        """The batch started over ``file_id``, if the provider has one (crash recovery)."""
        ...

    async def results(self, file_id: str) -> list[BatchResult]:
        """The answers in an output or error file."""
        ...


@runtime_checkable
class BatchBackend(Protocol):
    """A backend whose provider answers requests in bulk, at batch prices."""

    def batch_client(self) -> BatchClient:
        """A client for the provider's batch API, for this backend's model and credentials."""
        ...
