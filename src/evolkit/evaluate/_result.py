"""What a GSM8K evaluation returns: per-question records and the scores computed from them."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from evolkit.evaluate._extract import Layer
from evolkit.io import write_jsonl

__all__ = ["GSM8KRecord", "GSM8KResult", "Score", "wilson_interval"]

_Z95 = 1.959963984540054


def _votes(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


def _settings(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (well-behaved near 0 and 1, unlike p ± z·se)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@frozen
class Score:
    """A proportion over ``n`` questions with its standard error and 95% interval.

    ``stderr`` is the standard error of the mean of the 0/1 outcomes (sample variance, as
    lm-evaluation-harness reports it); ``ci95`` is the Wilson score interval.
    """

    hits: int
    n: int

    @property
    def value(self) -> float:
        """The proportion (NaN for no questions)."""
        return self.hits / self.n if self.n else math.nan

    @property
    def stderr(self) -> float:
        """Standard error: ``sqrt(p (1 - p) / (n - 1))`` (NaN for fewer than two questions)."""
        if self.n < 2:
            return math.nan
        p = self.value
        return math.sqrt(p * (1 - p) / (self.n - 1))

    @property
    def ci95(self) -> tuple[float, float]:
        """The 95% Wilson score interval."""
        return wilson_interval(self.hits, self.n)


@frozen
class GSM8KRecord:
    """One question's outcome.

    ``outputs`` holds every sample (one unless maj@k); ``extracted`` is the answer taken from
    them (the majority answer for maj@k) in canonical form, ``layer`` the extraction layer it
    came from (``marker``, ``boxed``, ``last_number``; None when no number was found).
    ``correct`` is the flexible verdict (any layer), ``strict_correct`` needs the marker layer.
    ``harness_strict`` / ``harness_flexible`` are lm-evaluation-harness's verdicts on the first
    output (``harness_strict`` is None for styles the harness has no strict pattern for).
    """

    index: int
    question: str
    gold: str
    prompt: str
    outputs: tuple[str, ...]
    extracted: str | None
    extracted_text: str | None
    layer: Layer | None
    correct: bool
    strict_correct: bool
    harness_strict: bool | None = None
    harness_flexible: bool | None = None
    votes: dict[str, int] = field(factory=dict, converter=_votes)
    errors: tuple[str, ...] = ()

    @property
    def output(self) -> str:
        """The first (for greedy decoding, the only) output."""
        return self.outputs[0] if self.outputs else ""

    @property
    def invalid(self) -> bool:
        """Whether no number was found in any output."""
        return self.extracted is None

    def to_json(self) -> dict[str, Any]:
        """The JSONL row: the prompt, the output(s), the extracted and gold answers, verdicts."""
        row: dict[str, Any] = {
            "index": self.index,
            "question": self.question,
            "prompt": self.prompt,
            "output": self.output,
            "extracted": self.extracted,
            "extracted_text": self.extracted_text,
            "gold": self.gold,
            "correct": self.correct,
            "strict_correct": self.strict_correct,
            "layer": self.layer,
            "harness_strict": self.harness_strict,
            "harness_flexible": self.harness_flexible,
        }
        if len(self.outputs) > 1:
            row["outputs"] = list(self.outputs)
            row["votes"] = dict(self.votes)
        if self.errors:
            row["errors"] = list(self.errors)
        return row


def _percent(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.2f}%"


def _interval(score: Score) -> str:
    low, high = score.ci95
    if math.isnan(low):
        return "–"
    return f"{100 * low:.1f}–{100 * high:.1f}%"


@frozen
class GSM8KResult:
    """The scores of one GSM8K run and its per-question :attr:`records`.

    ``strict``: answer found by the style's marker and right; ``flexible``: right by any
    extraction layer (the headline accuracy, which :attr:`stderr` and :attr:`ci95` describe);
    ``invalid_rate``: no number at all. In a notebook the result renders as a table.
    """

    records: tuple[GSM8KRecord, ...]
    model: str
    backend: str
    style: str
    split: str = "test"
    source: str = ""
    samples: int = 1
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    settings: dict[str, Any] = field(factory=dict, converter=_settings)

    @property
    def n(self) -> int:
        """Number of questions evaluated."""
        return len(self.records)

    def score(self, metric: str = "flexible") -> Score:
        """``flexible``, ``strict``, ``invalid``, ``harness_strict`` or ``harness_flexible``."""
        if metric == "flexible":
            hits = sum(r.correct for r in self.records)
        elif metric == "strict":
            hits = sum(r.strict_correct for r in self.records)
        elif metric == "invalid":
            hits = sum(r.invalid for r in self.records)
        elif metric in {"harness_strict", "harness_flexible"}:
            verdicts = [getattr(r, metric) for r in self.records]
            known = [v for v in verdicts if v is not None]
            return Score(sum(known), len(known))
        else:
            raise ValueError(f"unknown metric {metric!r}")
        return Score(hits, self.n)

    @property
    def flexible(self) -> float:
        """Accuracy with the answer taken from any layer (the headline figure)."""
        return self.score("flexible").value

    accuracy = flexible

    @property
    def strict(self) -> float:
        """Accuracy counting only answers given after the style's final-answer marker."""
        return self.score("strict").value

    @property
    def invalid_rate(self) -> float:
        """Share of questions whose output held no number."""
        return self.score("invalid").value

    @property
    def stderr(self) -> float:
        """Standard error of :attr:`flexible`."""
        return self.score("flexible").stderr

    @property
    def ci95(self) -> tuple[float, float]:
        """95% Wilson interval of :attr:`flexible`."""
        return self.score("flexible").ci95

    @property
    def questions_per_second(self) -> float:
        """Throughput of generation plus scoring."""
        return self.n / self.seconds if self.seconds > 0 else math.nan

    @property
    def errors(self) -> int:
        """Number of questions where a model call failed."""
        return sum(bool(r.errors) for r in self.records)

    def summary(self) -> dict[str, Any]:
        """The scores as a JSON-ready dict."""
        out: dict[str, Any] = {
            "model": self.model,
            "backend": self.backend,
            "style": self.style,
            "split": self.split,
            "source": self.source,
            "n": self.n,
            "samples": self.samples,
        }
        for metric in ("flexible", "strict", "invalid", "harness_strict", "harness_flexible"):
            score = self.score(metric)
            out[metric] = None if math.isnan(score.value) else score.value
        out["stderr"] = None if math.isnan(self.stderr) else self.stderr
        out["ci95"] = list(self.ci95)
        out["seconds"] = self.seconds
        out["questions_per_second"] = self.questions_per_second
        out["errors"] = self.errors
        out["warnings"] = list(self.warnings)
        out["settings"] = dict(self.settings)
        return out

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write one JSON line per question (see :meth:`GSM8KRecord.to_json`); returns the path."""
        return write_jsonl(path, (record.to_json() for record in self.records))

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        labels = {
            "flexible": "accuracy (flexible)",
            "strict": "accuracy (strict)",
            "invalid": "invalid (no number)",
            "harness_strict": "harness strict-match",
            "harness_flexible": "harness flexible-extract",
        }
        for metric, label in labels.items():
            score = self.score(metric)
            if score.n == 0:
                continue
            stderr = "–" if math.isnan(score.stderr) else f"±{100 * score.stderr:.2f}"
            rows.append((label, _percent(score.value), stderr, _interval(score)))
        return rows

    def _caption(self) -> str:
        k = f", maj@{self.samples}" if self.samples > 1 else ""
        return (
            f"GSM8K {self.split} · {self.model} · {self.backend} · style {self.style}{k} · "
            f"{self.n} questions · {self.seconds:.1f} s ({self.questions_per_second:.2f} q/s)"
        )

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=self._caption(), title_justify="left")
        for name in ("metric", "value", "stderr", "95% CI"):
            table.add_column(name, justify="left" if name == "metric" else "right")
        for row in self._rows():
            table.add_row(*row)
        return table

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self._rows()
        )
        notes = "".join(f"<p><em>{html.escape(w)}</em></p>" for w in self.warnings)
        return (
            f"<table><caption>{html.escape(self._caption())}</caption>"
            "<tr><th>metric</th><th>value</th><th>stderr</th><th>95% CI</th></tr>"
            f"{cells}</table>{notes}"
        )

    def __repr__(self) -> str:
        return (
            f"GSM8KResult(model={self.model!r}, style={self.style!r}, n={self.n}, "
            f"flexible={self.flexible:.4f}, strict={self.strict:.4f}, "
            f"invalid_rate={self.invalid_rate:.4f})"
        )
