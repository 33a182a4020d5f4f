"""evolkit: grow an instruction-tuning data set with Evol-Instruct.

>>> import evolkit
>>> from evolkit.testing import FakeBackend
>>> result = evolkit.evolve(["Explain photosynthesis."], rounds=2, backend=FakeBackend.default())
"""

from __future__ import annotations

from evolkit._protocols import Backend, Filter, Mutator, Scorer
from evolkit._types import (
    ChatMessage,
    Completion,
    Instruction,
    Rejected,
    ScoreFailure,
    ScoreItem,
    Usage,
    Verdict,
)
from evolkit._version import __version__
from evolkit.engine import EvolveConfig, RunResult, RunStats, aevolve, evolve
from evolkit.errors import EvolkitError
from evolkit.hookspecs import hookimpl

__all__ = [
    "Backend",
    "ChatMessage",
    "Completion",
    "EvolkitError",
    "EvolveConfig",
    "Filter",
    "Instruction",
    "Mutator",
    "Rejected",
    "RunResult",
    "RunStats",
    "ScoreFailure",
    "ScoreItem",
    "Scorer",
    "Usage",
    "Verdict",
    "__version__",
    "aevolve",
    "evolve",
    "hookimpl",
]
