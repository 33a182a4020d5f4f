"""The settings of one evolution run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from evolkit.batch._types import BatchSettings, to_batch_settings

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "DUPLICATE_IDS",
    "STRUCTURED",
    "EvolveConfig",
    "split_names",
]

#: What to do with seed rows that share an ``id`` but differ: refuse (``error``), keep both
#: with fresh content ids (``rename``), or keep the first (``drop``).
DUPLICATE_IDS = ("error", "rename", "drop")

#: Whether replies are constrained to the shape each call declares (``--structured``): where
#: the backend can (``auto``), always (``on``: a backend that cannot is refused), or never.
STRUCTURED = ("auto", "on", "off")


def _fraction(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


#: Calls in flight and seconds per call when neither the caller nor the backend's hints say.
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 120.0

_positive: Any = attrs.validators.optional(attrs.validators.gt(0))
_non_negative: Any = attrs.validators.ge(0)


def _sampling(instance: Any, attribute: attrs.Attribute[Any], value: Mapping[str, Any]) -> None:
    """Sampling parameters are finite numbers (``--temperature nan`` is refused), and the
    temperature is not negative."""
    for name, number in value.items():
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number, got {number} ({attribute.name})")
    temperature = value.get("temperature")
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature} ({attribute.name})")


def _weights(value: Mapping[str, float] | Sequence[str] | str | None) -> dict[str, float] | None:
    """Accept ``{"depth": 2, "breadth": 1}``, ``["depth", "breadth"]`` or ``"a=2,b"``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    out: dict[str, float] = {}
    if isinstance(value, Mapping):
        out = {str(k): float(v) for k, v in value.items()}
    else:
        for part in value:
            name, _, raw = str(part).partition("=")
            out[name.strip()] = float(raw) if raw.strip() else 1.0
    for name, weight in out.items():
        if weight < 0:
            raise ValueError(f"operator weight for {name!r} must be >= 0, got {weight}")
    if not out or not any(out.values()):
        raise ValueError("at least one operator needs a weight above 0")
    return out


def split_names(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Names given as a list or as one comma-separated string (``"a, b"``), blanks dropped."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v.strip())


@frozen(kw_only=True)
class EvolveConfig:
    """Everything that decides what a run produces, and how it runs.

    ``operators`` selects mutators by name or kind with weights (``{"depth": 5, "breadth": 1}``,
    ``["depth.deepen", "breadth"]`` or ``"depth=5,breadth"``); ``None`` uses every default
    operator with weight 1. ``filters`` names the eliminator filters in order; ``None`` uses the
    defaults. ``respond=False`` skips the response to each evolved instruction (and the filters
    that need one); ``respond_system`` is a system prompt sent with every response request
    (for example: "End with 'The answer is: N'." for math data). ``batch=True`` (or
    :class:`~evolkit.batch.BatchSettings`) sends the calls as provider batch jobs at batch
    prices, with the same data set as a result; ``max_cost`` stops the run before it would
    spend more than that many dollars on new calls. Neither changes the output, so a run may
    be resumed with or without them.

    ``concurrency`` (model calls in flight) and ``timeout`` (seconds per call) left at ``None``
    take the backend's hints (a local model: its parallel slots and a patient timeout), else
    16 and 120 s; :meth:`fitted` fills them in.

    ``structured`` constrains every reply whose call declares a shape (a rewrite, a verdict, a
    score) to that shape's JSON schema: ``"auto"`` where the backend can, ``"on"`` always (a
    backend that cannot is an error), ``"off"`` never (replies are read as text). The plan
    holds ``"on"`` when the backend constrains (``auto`` resolved). It is not part of the
    fingerprint: a constrained call never shares an answer with a text one (its messages and
    ``response_format`` are part of its journal key), so a run resumed the other way only
    reads the rounds still to come differently.
    """

    rounds: int = field(default=4, validator=_non_negative)
    seed: int = 0
    concurrency: int | None = field(default=None, validator=_positive)
    operators: dict[str, float] | None = field(default=None, converter=_weights)
    filters: tuple[str, ...] | None = field(default=None, converter=split_names)
    respond: bool = True
    respond_seeds: bool = True
    respond_system: str | None = None
    mutate_params: Mapping[str, Any] = field(
        factory=lambda: {"temperature": 0.7, "max_tokens": 512}, converter=dict, validator=_sampling
    )
    respond_params: Mapping[str, Any] = field(
        factory=lambda: {"temperature": 0.7, "max_tokens": 1024},
        converter=dict,
        validator=_sampling,
    )
    retries: int = field(default=4, validator=_non_negative)
    timeout: float | None = field(default=None, validator=_positive)
    backoff: float = field(default=0.5, validator=_non_negative)
    backoff_max: float = field(default=30.0, validator=_non_negative)
    rpm: float | None = field(default=None, validator=_positive)
    tpm: float | None = field(default=None, validator=_positive)
    cache: Path | None = field(default=None, converter=attrs.converters.optional(Path))
    # Failure behaviour (see evolkit.engine.failures and docs "When things go wrong").
    max_failure_rate: float = field(default=0.5, validator=_fraction)
    breaker_calls: int = field(default=20, validator=_positive)
    strict: bool = False
    max_reply_chars: int = field(default=100_000, validator=_positive)
    max_instruction_chars: int = field(default=50_000, validator=_positive)
    duplicate_ids: str = field(default="error", validator=attrs.validators.in_(DUPLICATE_IDS))
    batch: BatchSettings | None = field(default=None, converter=to_batch_settings)
    max_cost: float | None = field(default=None, validator=_positive)
    #: A second try for a call far slower than the run's others, on a spare slot (hedge.py);
    #: ``None``: on, unless the backend's hints say it would not help (a local model).
    hedge: bool | None = None
    structured: str = field(default="off", validator=attrs.validators.in_(STRUCTURED))

    def fitted(
        self,
        parallel: int | None = None,
        timeout: float | None = None,
        hedge: bool | None = None,
    ) -> EvolveConfig:
        """This config with ``concurrency``, ``timeout`` and ``hedge`` filled in where they
        are ``None``: from a backend's hints (its ``parallel`` slots, its ``timeout``, whether
        a second try helps), else the defaults. Values the caller gave are kept."""
        if self.hedge is not None:
            hedge = self.hedge
        return attrs.evolve(
            self,
            concurrency=self.concurrency or parallel or DEFAULT_CONCURRENCY,
            timeout=self.timeout or timeout or DEFAULT_TIMEOUT,
            hedge=True if hedge is None else hedge,
        )

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the output; a resumed run must match them."""
        return {
            "rounds": self.rounds,
            "seed": self.seed,
            "operators": self.operators,
            "filters": list(self.filters) if self.filters is not None else None,
            "respond": self.respond,
            "respond_seeds": self.respond_seeds,
            "respond_system": self.respond_system,
            "mutate_params": dict(self.mutate_params),
            "respond_params": dict(self.respond_params),
            "max_reply_chars": self.max_reply_chars,
            "max_instruction_chars": self.max_instruction_chars,
            "duplicate_ids": self.duplicate_ids,
        }
