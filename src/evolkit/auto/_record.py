"""The trajectory of an optimisation: per step, every candidate's dev failure rate, the one
chosen, and the diff of the method text from the previous step. Written as JSON beside the
method file (``METHOD.toml.trajectory.json``) and read by the HTML report."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from evolkit._fields import named_fields
from evolkit.auto._method import CandidateScore, Method
from evolkit.io import atomic_writer

__all__ = ["StepView", "method_diff", "read_trajectory", "trajectory_path", "write_trajectory"]


def trajectory_path(method_file: str | os.PathLike[str]) -> Path:
    path = Path(method_file)
    return path.with_name(path.name + ".trajectory.json")


def method_diff(before: str, after: str, step: int) -> str:
    """A unified diff of two method texts, line by line."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"step {step - 1}",
        tofile=f"step {step}",
        lineterm="",
    )
    return "\n".join(lines)


@frozen(kw_only=True)
class StepView:
    """One step as the trajectory shows it: candidates (None: no usable method), their
    scores, the chosen one and the method in force after the step."""

    step: int
    prompts: tuple[str | None, ...]
    scores: tuple[CandidateScore, ...]
    chosen: int
    method: Method = field(eq=False, repr=False)
    feedback: str = ""
    diff: str = ""

    @property
    def score(self) -> CandidateScore:
        """The chosen candidate's score."""
        return self.scores[self.chosen]

    def to_json(self) -> dict[str, Any]:
        return {
            **named_fields(self, "step", "chosen", "feedback", "diff"),
            "candidates": [
                {**score.to_toml(), "prompt": prompt}
                for prompt, score in zip(self.prompts, self.scores, strict=True)
            ],
        }


def write_trajectory(path: Path, method: Method, steps: Sequence[StepView]) -> None:
    data = {
        "method": method.operator_name,
        "method_id": method.id,
        "fitted": method.fitted.to_toml(),
        "steps": [s.to_json() for s in steps],
    }
    with atomic_writer(path) as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def read_trajectory(path: str | os.PathLike[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data
