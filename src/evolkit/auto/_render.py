"""The trajectory of an optimisation as plain text: a failure-rate table and the diffs."""

from __future__ import annotations

from evolkit.auto._optimize import OptimizeResult

__all__ = ["render_result"]


def render_result(result: OptimizeResult) -> str:
    """Per step: each candidate's dev failure rate (the chosen one starred), then the diffs."""
    width = max(len(s.scores) for s in result.steps)
    header = "step  " + "  ".join(f"cand{i:<3d}" for i in range(width)) + "  chosen"
    lines = ["dev failure rate per step and candidate (* chosen):", header]
    for view in result.steps:
        cells = []
        for index, score in enumerate(view.scores):
            mark = "*" if index == view.chosen else " "
            cells.append(f"{score.failure_rate:6.3f}{mark}")
        cells += [" " * 7] * (width - len(cells))
        lines.append(f"{view.step:<4d}  " + "  ".join(cells) + f"  {view.chosen}")
    for view in result.steps[1:]:
        if view.diff:
            lines += ["", f"method change at step {view.step}:", view.diff]
        else:
            lines += ["", f"method unchanged at step {view.step}"]
    method = result.method
    lines += [
        "",
        f"method {method.operator_name} v{method.version} ({method.id}): dev failure rate "
        f"{result.failure_rates[0]:.3f} -> {result.failure_rates[-1]:.3f}",
        f"{result.calls_sent} calls sent, {result.usage.total_tokens} tokens, "
        f"${result.usage.cost:.4f}, {result.elapsed_s:.1f}s",
    ]
    if result.output is not None:
        lines.append(f"wrote {result.output} and {result.output}.trajectory.json")
    return "\n".join(lines)
