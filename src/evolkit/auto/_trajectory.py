"""Evolution trajectories: what happened to each seed of a mini-batch, round by round.

A trajectory is read back from an ordinary run (its kept rows and its drops) and rendered as
text for the optimizer model to analyse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attrs import frozen

from evolkit._types import Instruction
from evolkit.engine.stats import Drop

__all__ = ["Trajectory", "TrajectoryStep", "build_trajectories", "render_trajectories"]

_MAX_RESPONSE_WORDS = 80


@frozen
class TrajectoryStep:
    """One round of one trajectory: the kept rewrite (with its response) or the failed one."""

    round: int
    text: str
    response: str | None
    failure: str | None  # the drop reason, when this round's rewrite was thrown away


@frozen
class Trajectory:
    seed: Instruction
    steps: tuple[TrajectoryStep, ...]

    @property
    def failures(self) -> int:
        return sum(1 for s in self.steps if s.failure is not None)


def build_trajectories(
    seeds: Sequence[Instruction], rows: Iterable[Instruction], drops: Iterable[Drop], rounds: int
) -> list[Trajectory]:
    """Walk each seed's lineage: in each round its current instruction was kept or dropped."""
    kept = {(row.round, row.parent_id): row for row in rows if row.parent_id is not None}
    dropped = {(d.round, d.parent_id): d for d in drops if d.stage != "respond_seed"}
    out: list[Trajectory] = []
    for seed in seeds:
        current = seed.id
        steps: list[TrajectoryStep] = []
        for r in range(1, rounds + 1):
            child = kept.get((r, current))
            if child is not None:
                steps.append(TrajectoryStep(r, child.text, child.response, None))
                current = child.id
                continue
            drop = dropped.get((r, current))
            if drop is not None:
                steps.append(TrajectoryStep(r, drop.text or "", None, drop.reason))
        out.append(Trajectory(seed, tuple(steps)))
    return out


def _short(text: str, words: int = _MAX_RESPONSE_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def render_trajectories(trajectories: Sequence[Trajectory]) -> str:
    """The trajectories as numbered text blocks, responses shortened."""
    blocks = []
    for number, trajectory in enumerate(trajectories, 1):
        lines = [f"<trajectory {number}>", f"Original: {trajectory.seed.text}"]
        for step in trajectory.steps:
            if step.failure is None:
                lines.append(f"Rewrite {step.round}: {step.text}")
                if step.response is not None:
                    lines.append(f"Response {step.round}: {_short(step.response)}")
            else:
                text = _short(step.text, 60) if step.text else "(no rewrite)"
                lines.append(f"Rewrite {step.round} (thrown away: {step.failure}): {text}")
        if not trajectory.steps:
            lines.append("(no rewrite was attempted)")
        lines.append(f"</trajectory {number}>")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
