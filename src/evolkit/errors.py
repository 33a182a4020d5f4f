"""The exceptions evolkit raises. Every one derives from :class:`EvolkitError`.

Each error carries a message that names the problem and, where there is one, the fix,
so the command line can print it as one line instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "MODEL_ERROR_KINDS",
    "BackendError",
    "ConfigError",
    "DuplicateNameError",
    "EvolkitError",
    "MissingExtraError",
    "ModelError",
    "SeedFileError",
    "UnknownNameError",
    "missing_extra",
]


class EvolkitError(Exception):
    """Root of every error evolkit raises on purpose."""


class ConfigError(EvolkitError, ValueError):
    """An argument or setting has a value evolkit cannot use."""


class SeedFileError(EvolkitError, ValueError):
    """A seed or data file cannot be read; the message names the file and line."""

    def __init__(self, path: str, line: int | None, problem: str, fix: str = "") -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        message = f"{where}: {problem}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


class UnknownNameError(EvolkitError, KeyError):
    """A mutator, filter or backend name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind = kind
        self.name = name
        self.known = known
        close = difflib.get_close_matches(name, known, n=3)
        listed = ", ".join(known) or "none"
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {listed}"
        super().__init__(
            f"unknown {kind} {name!r}: {hint} (`evolkit plugins` lists every registered name)"
        )

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class DuplicateNameError(EvolkitError, ValueError):
    """Two plugins registered the same name for the same kind of component."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(
            f"{kind} {name!r} is registered twice: by {first} and by {second} "
            f"(rename one, or disable a plugin with EVOLKIT_DISABLE_PLUGINS={second})"
        )


class MissingExtraError(EvolkitError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class BackendError(EvolkitError):
    """A backend cannot be built or configured (not a failed model call)."""


#: The kinds of :class:`ModelError` every backend uses, with whether a retry may help:
#: ``auth`` (401/403, missing or rejected key), ``not_found`` (404, unknown model or path),
#: ``bad_request`` (400/422, the request itself is wrong), ``rate_limit`` (429, retryable,
#: honours ``retry_after``), ``server_error`` (5xx, retryable), ``connection`` (refused or
#: dropped connection, retryable), ``timeout`` (retryable), ``malformed`` (a reply that cannot
#: be read, retryable).
MODEL_ERROR_KINDS = (
    "auth",
    "not_found",
    "bad_request",
    "rate_limit",
    "server_error",
    "connection",
    "timeout",
    "malformed",
)


class ModelError(EvolkitError):
    """A model call failed. ``retryable`` says whether a retry may help; ``kind`` is one of
    :data:`MODEL_ERROR_KINDS` (or a backend's own word); ``status`` is the HTTP status when
    there was one, and ``retry_after`` the seconds a provider asked the caller to wait."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


def missing_extra(package: str, extra: str, exc: BaseException | None = None) -> MissingExtraError:
    """Build the error for a missing optional dependency."""
    detail = f" ({exc})" if exc is not None and str(exc) else ""
    return MissingExtraError(
        f"{package} is not installed{detail}: install it with `pip install 'evolkit[{extra}]'`"
    )
