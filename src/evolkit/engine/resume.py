"""What a resumed run may reuse: a finished run is returned as it is, a shrunk one refused.

A resume whose settings change what finished work means must refuse or recompute exactly.
Other seeds, another ``--seed`` or other operators already refuse (the run's fingerprint);
here: fewer rounds than were finished (the rows of the extra rounds are on disk and would be
counted), and a run that is already complete (it is returned without loading the model or
making a call, with its recorded figures).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evolkit.engine.result import RunResult
from evolkit.engine.stats import RunStats
from evolkit.engine.workdir import summary_path
from evolkit.errors import ConfigError
from evolkit.io import atomic_writer

__all__ = ["finished_result", "run_id", "write_report"]


def run_id(fingerprint: Mapping[str, Any]) -> str:
    """A short id of a run's settings. Without ``rounds`` (more rounds extend the same run) and
    without the seeds (they are in every request already; a cost pilot on some of the seeds
    shares its calls with the run that follows)."""
    kept = {k: v for k, v in fingerprint.items() if k not in {"rounds", "seeds"}}
    blob = json.dumps(kept, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def finished_result(
    state: Mapping[str, Any] | None, rounds: int, output: Path | None, workdir: Path
) -> RunResult | None:
    """The saved result when the run at ``workdir`` already finished ``rounds`` rounds.

    Raises :class:`ConfigError` when it finished more rounds than asked for.
    """
    if state is None:
        return None
    completed = int(state.get("completed_round", -1))
    if completed > rounds:
        raise ConfigError(
            f"{workdir} holds a run that finished {completed} rounds; --rounds {rounds} would "
            f"leave rounds {rounds + 1}..{completed} on disk: pass --rounds {completed} or more, "
            "or --overwrite / a new output path"
        )
    if completed < rounds or output is None:
        return None
    report = summary_path(output)
    if not (output.is_file() and report.is_file()):
        return None
    try:
        saved = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("status", "complete") != "complete":
        return None
    stats = RunStats.from_json(saved["stats"])
    if stats.seed_response_failures:  # seeds left unanswered: the resume asks again
        return None
    return RunResult(
        stats=stats,
        output=output,
        workdir=workdir,
        already_complete=True,
    )


def write_report(output: Path, status: str, stats: RunStats, settings: Mapping[str, Any]) -> None:
    """``OUT.run.json``: ``status`` (``complete`` or ``stopped: <cause>``), counts, settings."""
    with atomic_writer(summary_path(output)) as fh:
        json.dump({"status": status, "stats": stats.to_json(), "settings": settings}, fh, indent=2)
