"""Fault plans and counters for the fake OpenAI-compatible server.

Every draw the server makes (which fault, how much latency jitter) is a pure function of the
server's ``seed``, the *request key* and the *attempt number*, never of arrival order, so a run
with many concurrent requests fails the same requests in the same way every time.

- The request key is a hash of the requested model name and the messages' roles and text, so a
  retry of the same call has the same key.
- The attempt number counts the requests with that key the server has seen, starting at 1.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import attrs
from attrs import field, frozen

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "ServerStats",
    "request_key",
    "unit_draw",
]

FaultKind = Literal["429", "500", "503", "timeout", "drop", "bad_json", "no_choices"]
#: Every fault kind, in the order their shares are stacked on the unit interval.
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


def _rate(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"FaultPlan.{attribute.name} must be within [0, 1], got {value}")


def _positive(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"FaultPlan.{attribute.name} must be >= 0, got {value}")


def _cap(instance: Any, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"FaultPlan.{attribute.name} must be >= 0 or None, got {value}")


def unit_draw(seed: int, key: str, attempt: int, salt: str) -> float:
    """A number in ``[0, 1)`` fixed by ``(seed, key, attempt, salt)``."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}\x1f{attempt}\x1f{salt}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2.0**64


def request_key(model: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """The key retries of one call share: a hash of the model and the messages' roles and text
    (16 hex digits). Message parts that are not text do not count."""
    h = hashlib.blake2b(model.encode("utf-8"), digest_size=8)
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, sort_keys=True, ensure_ascii=False)
        h.update(b"\x1e" + str(message.get("role", "")).encode("utf-8") + b"\x1f")
        h.update(content.encode("utf-8"))
    return h.hexdigest()


@frozen
class FaultPlan:
    """Which share of requests fail, and how.

    Each ``rate_*`` is the probability that one attempt gets that fault; together they must not
    exceed 1. The faults:

    - ``429``: HTTP 429 with a ``Retry-After`` header of ``retry_after`` seconds;
    - ``500`` / ``503``: HTTP 500 / 503 with an OpenAI-style error body;
    - ``timeout``: the server holds the request ``timeout_delay`` seconds and then closes the
      connection without answering (a client with a shorter timeout times out first;
      ``timeout_delay=float("inf")`` never answers);
    - ``drop``: the connection is closed without a response;
    - ``bad_json``: HTTP 200 with a body that is not valid JSON;
    - ``no_choices``: HTTP 200 with a JSON completion that has no ``choices``.

    ``max_faults_per_request`` caps how many attempts of one request key may fail; after that the
    key is always answered. ``FaultPlan(rate_500=1.0, max_faults_per_request=1)`` therefore fails
    every request once and answers its first retry.
    """

    rate_429: float = field(default=0.0, validator=_rate)
    rate_500: float = field(default=0.0, validator=_rate)
    rate_503: float = field(default=0.0, validator=_rate)
    rate_timeout: float = field(default=0.0, validator=_rate)
    rate_drop: float = field(default=0.0, validator=_rate)
    rate_bad_json: float = field(default=0.0, validator=_rate)
    rate_no_choices: float = field(default=0.0, validator=_rate)
    retry_after: float = field(default=1.0, validator=_positive)
    timeout_delay: float = field(default=30.0, validator=_positive)
    max_faults_per_request: int | None = field(default=None, validator=_cap)
    _edges: tuple[tuple[float, FaultKind], ...] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.total > 1.0 + 1e-9:
            raise ValueError(f"FaultPlan rates add up to {self.total:.3f}, more than 1")
        edges: list[tuple[float, FaultKind]] = []
        edge = 0.0
        for kind in FAULT_KINDS:
            if self.rate(kind) > 0.0:
                edge += self.rate(kind)
                edges.append((edge, kind))
        object.__setattr__(self, "_edges", tuple(edges))

    @classmethod
    def only(cls, kind: FaultKind, rate: float = 1.0, **options: Any) -> FaultPlan:
        """A plan with one fault kind: ``FaultPlan.only("503", 0.2)``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        rates: dict[str, Any] = {f"rate_{kind}": rate}
        return cls(**rates, **options)

    @classmethod
    def mixed(
        cls, rate: float, kinds: Sequence[FaultKind] = FAULT_KINDS, **options: Any
    ) -> FaultPlan:
        """A plan where ``rate`` of the attempts fail, spread evenly over ``kinds``."""
        if not kinds:
            raise ValueError("FaultPlan.mixed needs at least one fault kind")
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
        rates: dict[str, Any] = {f"rate_{kind}": rate / len(kinds) for kind in kinds}
        return cls(**rates, **options)

    def rate(self, kind: FaultKind) -> float:
        """The share of attempts that get ``kind``."""
        value: float = getattr(self, f"rate_{kind}")
        return value

    @property
    def total(self) -> float:
        """The share of attempts that get any fault."""
        return sum(self.rate(kind) for kind in FAULT_KINDS)

    def decide(self, seed: int, key: str, attempt: int, faults_so_far: int = 0) -> FaultKind | None:
        """The fault for attempt ``attempt`` (1-based) of request ``key``, or ``None`` to answer."""
        if not self._edges:
            return None
        if self.max_faults_per_request is not None and faults_so_far >= self.max_faults_per_request:
            return None
        u = unit_draw(seed, key, attempt, "fault")
        for edge, kind in self._edges:
            if u < edge:
                return kind
        return None

    def to_args(self) -> list[str]:
        """Command-line flags for ``python -m fakeserver`` that rebuild this plan."""
        args: list[str] = []
        for kind in FAULT_KINDS:
            if self.rate(kind):
                args += [f"--rate-{kind.replace('_', '-')}", repr(self.rate(kind))]
        args += [
            "--retry-after",
            repr(self.retry_after),
            "--timeout-delay",
            repr(self.timeout_delay),
        ]
        if self.max_faults_per_request is not None:
            args += ["--max-faults-per-request", str(self.max_faults_per_request)]
        return args


class ServerStats:
    """What the fake server has seen; safe to read from another thread through :meth:`snapshot`.

    - ``requests``: chat-completion requests received (every attempt);
    - ``ok``: requests answered with a completion;
    - ``faults``: injected faults by kind (a kind that never happened is absent);
    - ``attempts``: requests per request key (see :func:`request_key`);
    - ``in_flight`` / ``max_in_flight``: requests being handled now / at most at once;
    - ``prompt_tokens`` / ``completion_tokens``: words counted in the answered requests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.requests = 0
        self.ok = 0
        self.faults: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.faults_by_key: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __repr__(self) -> str:
        return (
            f"ServerStats(requests={self.requests}, ok={self.ok}, faults={self.faults}, "
            f"max_in_flight={self.max_in_flight})"
        )

    def begin(self, key: str) -> tuple[int, int]:
        """Count a new request for ``key``; returns (attempt number, faults so far for ``key``)."""
        with self._lock:
            self.requests += 1
            attempt = self.attempts.get(key, 0) + 1
            self.attempts[key] = attempt
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight
            return attempt, self.faults_by_key.get(key, 0)

    def fault(self, key: str, kind: str) -> None:
        """Count an injected fault of ``kind`` for ``key``."""
        with self._lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1
            self.faults_by_key[key] = self.faults_by_key.get(key, 0) + 1

    def answered(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count a completion that was sent."""
        with self._lock:
            self.ok += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    def end(self) -> None:
        """A request left the server (answered, failed or cancelled)."""
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        """Forget everything counted so far, attempt numbers included."""
        with self._lock:
            in_flight = self.in_flight
            self._clear()
            self.in_flight = in_flight

    def to_dict(self) -> dict[str, Any]:
        """A consistent JSON-ready copy of the counters."""
        with self._lock:
            return {
                "requests": self.requests,
                "ok": self.ok,
                "faults": dict(self.faults),
                "attempts": dict(self.attempts),
                "faults_by_key": dict(self.faults_by_key),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }

    def snapshot(self) -> ServerStats:
        """A copy that the server no longer changes."""
        return ServerStats.from_dict(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerStats:
        """Rebuild counters from :meth:`to_dict` output (as sent by a server in another process)."""
        stats = cls()
        stats.requests = int(data["requests"])
        stats.ok = int(data["ok"])
        stats.faults = {str(k): int(v) for k, v in data["faults"].items()}
        stats.attempts = {str(k): int(v) for k, v in data["attempts"].items()}
        stats.faults_by_key = {str(k): int(v) for k, v in data["faults_by_key"].items()}
        stats.in_flight = int(data["in_flight"])
        stats.max_in_flight = int(data["max_in_flight"])
        stats.prompt_tokens = int(data["prompt_tokens"])
        stats.completion_tokens = int(data["completion_tokens"])
        return stats

    @property
    def total_faults(self) -> int:
        """All injected faults together."""
        return sum(self.faults.values())
