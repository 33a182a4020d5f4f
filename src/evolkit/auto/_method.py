"""A method file: an evolving method, what it was fitted on, and how every candidate scored.

The file is TOML (read with :mod:`tomllib`, written with ``tomli-w``)::

    format = "evolkit-method"
    format_version = 1
    name = "auto"
    version = 3
    prompt = '''You will make the instruction below more complex, ...'''

    [fitted]
    evolver_model = "openai/gpt-4o-mini"
    ...

    [[steps]]
    step = 1
    chosen = 2
    [[steps.candidates]]
    method_id = "…"
    failures = 1
    total = 20
    failure_rate = 0.05

``Method.mutator()`` is the operator that runs it (``method.<name>``); ``evolkit evolve
--method FILE`` and a plugin's ``evolkit_register_mutators`` use that.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from evolkit._fields import named_fields
from evolkit._types import content_id
from evolkit.errors import ConfigError
from evolkit.io import atomic_writer
from evolkit.operators import TemplateMutator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METHOD_REPLY_FORMAT",
    "CandidateScore",
    "Fitted",
    "Method",
    "StepRecord",
    "method_id",
]

FORMAT = "evolkit-method"
FORMAT_VERSION = 1
METHOD_REPLY_FORMAT = (
    "Work through the steps, then end your reply with only the final instruction inside "
    "<rewrite></rewrite> tags."
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PLACEHOLDERS = re.compile(r"\{(instruction|variant)\}")


def method_id(prompt: str) -> str:
    """The content id of a method's prompt (16 hex digits, stable everywhere)."""
    return content_id(prompt.strip())


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()}


def _settings(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _stripped(value: str) -> str:
    return value.strip()


def _check_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(f"method name {value!r}: use letters, digits, '.', '_' or '-'")


def _check_prompt(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value.split()) < 5:
        raise ValueError("a method prompt needs at least a sentence (5 words)")


@frozen(kw_only=True)
class CandidateScore:
    """One candidate method of one step, scored on the development set."""

    method_id: str
    failures: int
    total: int
    reasons: Mapping[str, int] = field(factory=dict, converter=_counts)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.total if self.total else 1.0

    def to_toml(self) -> dict[str, Any]:
        return {
            "method_id": self.method_id,
            "failures": self.failures,
            "total": self.total,
            "failure_rate": round(self.failure_rate, 6),
            "reasons": dict(sorted(self.reasons.items())),
        }

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> CandidateScore:
        return cls(
            method_id=str(data["method_id"]),
            failures=int(data["failures"]),
            total=int(data["total"]),
            reasons={str(k): int(v) for k, v in dict(data.get("reasons", {})).items()},
        )


def _score_tuple(value: Iterable[CandidateScore]) -> tuple[CandidateScore, ...]:
    return tuple(value)


@frozen(kw_only=True)
class StepRecord:
    """A step: its candidates' scores and the one chosen (step 0 is the initial method)."""

    step: int
    candidates: tuple[CandidateScore, ...] = field(converter=_score_tuple)
    chosen: int

    @property
    def best(self) -> CandidateScore:
        return self.candidates[self.chosen]

    def to_toml(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "chosen": self.chosen,
            "candidates": [c.to_toml() for c in self.candidates],
        }

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            step=int(data["step"]),
            chosen=int(data["chosen"]),
            candidates=tuple(CandidateScore.from_toml(c) for c in data.get("candidates", [])),
        )


def _step_tuple(value: Iterable[StepRecord]) -> tuple[StepRecord, ...]:
    return tuple(value)


@frozen(kw_only=True)
class Fitted:
    """What a method was fitted on: models, data digests and the optimisation settings."""

    evolver_model: str = ""
    optimizer_model: str = ""
    seeds: str = ""
    dev: str = ""
    settings: Mapping[str, Any] = field(factory=dict, converter=_settings)

    def to_toml(self) -> dict[str, Any]:
        return {
            **named_fields(self, "evolver_model", "optimizer_model", "seeds", "dev"),
            "settings": dict(sorted(self.settings.items())),
        }

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> Fitted:
        return cls(
            evolver_model=str(data.get("evolver_model", "")),
            optimizer_model=str(data.get("optimizer_model", "")),
            seeds=str(data.get("seeds", "")),
            dev=str(data.get("dev", "")),
            settings=dict(data.get("settings", {})),
        )


@frozen(kw_only=True)
class Method:
    """An evolving method: its prompt, its version (optimisation steps applied) and history."""

    prompt: str = field(converter=_stripped, validator=_check_prompt)
    name: str = field(default="auto", validator=_check_name)
    version: int = 0
    fitted: Fitted = field(factory=Fitted)
    steps: tuple[StepRecord, ...] = field(default=(), converter=_step_tuple)

    @property
    def id(self) -> str:
        return method_id(self.prompt)

    @property
    def operator_name(self) -> str:
        return f"method.{self.name}"

    def mutator(self, name: str | None = None) -> TemplateMutator:
        """The operator that evolves an instruction with this method."""
        # The method is plain text: placeholders in it are read as words, never filled twice.
        body = _PLACEHOLDERS.sub(lambda m: f"the {m.group(1)}", self.prompt)
        return TemplateMutator(
            name=name or self.operator_name,
            kind="auto",
            template=body + "\n\n{instruction}",
            output_format=METHOD_REPLY_FORMAT,
            output_format_with_input=METHOD_REPLY_FORMAT,
            description=f"evolving method {self.name} v{self.version} ({self.id})",
        )

    def to_toml(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "method_id": self.id,
            "prompt": self.prompt,
            "fitted": self.fitted.to_toml(),
            "steps": [s.to_toml() for s in self.steps],
        }

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> Method:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a method file (format = {FORMAT!r} is missing)")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"format_version {data['format_version']} is newer than this evolkit reads "
                f"({FORMAT_VERSION}): upgrade evolkit"
            )
        return cls(
            prompt=str(data["prompt"]),
            name=str(data.get("name", "auto")),
            version=int(data.get("version", 0)),
            fitted=Fitted.from_toml(data.get("fitted", {})),
            steps=tuple(StepRecord.from_toml(s) for s in data.get("steps", [])),
        )

    def dumps(self) -> str:
        import tomli_w

        data = self.to_toml()
        text = tomli_w.dumps(data, multiline_strings=True)  # a prompt reads as it was written
        if tomllib.loads(text) != data:  # TOML reads a raw "\r\n" in a multi-line string as "\n"
            text = tomli_w.dumps(data)
        return text

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the method file atomically."""
        target = Path(path)
        with atomic_writer(target) as fh:
            fh.write(self.dumps())
        return target

    @classmethod
    def loads(cls, text: str) -> Method:
        return cls.from_toml(tomllib.loads(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Method:
        """Read a method file; a missing or malformed file is a :class:`ConfigError`."""
        target = Path(path)
        try:
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read method file {target}: {exc.strerror}") from None
        try:
            return cls.loads(text)
        except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ConfigError(f"method file {target} is not valid: {detail}") from None
