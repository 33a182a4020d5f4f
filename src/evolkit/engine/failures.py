"""What a run does when calls fail: which failures end it, and the summary it prints.

Three rules stop a run early, cleanly and resumably (the round in progress is not committed;
finished calls stay in the journal and are not made again):

* **Fail fast.** Before any call of the run has succeeded, a call that failed with ``auth``
  (missing or rejected key), ``not_found`` (unknown model or path) or ``connection`` (nothing
  listening at ``--api-base``), past its retries, ends the run at once: nothing could succeed.
* **Circuit breaker.** When the last ``breaker_calls`` failed calls in a row (no success in
  between) share one cause, the run stops: the provider went away midway.
* **Failure rate.** When more than ``max_failure_rate`` of a round's items failed for a model
  error (checked once ``breaker_calls`` items are done, and at the end of the round), it stops.

A programming error in a plugin (an exception that is not a :class:`ModelError`) is never
retried; it is counted under ``plugin_error:<name>`` and, with ``strict``, ends the run.
"""

from __future__ import annotations

from collections import Counter, deque

from attrs import field, frozen

from evolkit.errors import EvolkitError, ModelError
from evolkit.redact import redact

__all__ = ["FailurePolicy", "FailureTracker", "PluginError", "RunAborted", "plugin_error"]

_FATAL_BEFORE_SUCCESS = {"auth", "not_found", "connection"}
_FIXES = {
    "auth": "set the provider's API key, e.g. OPENAI_API_KEY, or pass api_key",
    "not_found": "check --model and --api-base",
    "connection": "check --api-base and that the server is up",
}


class RunAborted(EvolkitError):
    """A run stopped early because it could not succeed; finished work is kept."""

    def __init__(self, message: str, cause: str) -> None:
        self.cause = cause
        super().__init__(message)


class PluginError(EvolkitError):
    """A plugin (operator, filter or backend) raised an exception that is not a model fault."""

    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        self.reason = f"plugin_error:{name}"
        super().__init__(redact(f"{name} raised {type(exc).__name__}: {exc}"))


def plugin_error(name: str, exc: BaseException) -> PluginError:
    """The :class:`PluginError` for ``exc`` raised by the plugin ``name``, chained to it."""
    error = PluginError(name, exc)
    error.__cause__ = exc
    return error


def _rate(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"max_failure_rate must be between 0 and 1, got {value}")
    return value


@frozen(kw_only=True)
class FailurePolicy:
    """When failures end a run: see the module docstring."""

    max_failure_rate: float = field(default=0.5, converter=_rate)
    breaker_calls: int = 20
    strict: bool = False
    #: False for callers that only count (scoring, optimising): no rule stops them.
    stops: bool = True


class FailureTracker:
    """Counts a run's failed calls by cause and raises :class:`RunAborted` when a rule trips."""

    def __init__(self, policy: FailurePolicy | None = None) -> None:
        self.policy = policy or FailurePolicy()
        self.succeeded = 0
        self.causes: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self._streak: deque[str] = deque(maxlen=max(1, self.policy.breaker_calls))

    def success(self) -> None:
        self.succeeded += 1
        self._streak.clear()

    def failure(self, error: ModelError | PluginError) -> None:
        """Record one call that failed past its retries; raise if the run should stop."""
        cause = error.reason if isinstance(error, PluginError) else f"model_error:{error.kind}"
        self.causes[cause] += 1
        self.examples.setdefault(cause, redact(str(error)))
        self._streak.append(cause)
        if isinstance(error, PluginError) and self.policy.strict:
            raise RunAborted(
                f"run stopped by --strict: {self.examples[cause]}; finished work is kept", cause
            )
        if not self.policy.stops:
            return
        kind = getattr(error, "kind", "")
        if self.succeeded == 0 and kind in _FATAL_BEFORE_SUCCESS:
            raise self._abort(cause, "no call has succeeded")
        if len(self._streak) == self._streak.maxlen and len(set(self._streak)) == 1:
            raise self._abort(cause, f"the last {len(self._streak)} calls all failed")

    def check_round(self, round: int, failed: int, done: int, *, final: bool = False) -> None:
        """Raise when more than the allowed share of ``round``'s items failed."""
        if not self.policy.stops or done == 0 or (not final and done < self.policy.breaker_calls):
            return
        if failed / done > self.policy.max_failure_rate:
            cause = self.causes.most_common(1)[0][0] if self.causes else "model_error"
            raise self._abort(
                cause,
                f"{failed} of {done} items of round {round} failed (more than "
                f"--max-failure-rate {self.policy.max_failure_rate:g})",
            )

    def _abort(self, cause: str, why: str) -> RunAborted:
        kind = cause.split(":", 1)[1] if cause.startswith("model_error:") else ""
        example = self.examples.get(cause, cause)
        fix = _FIXES.get(kind)
        if fix and "(" not in example:
            example = f"{example} ({fix})"
        return RunAborted(
            f"run stopped, {why}: {example}; finished work is kept: fix the cause and run "
            "the same command again to resume",
            cause,
        )

