"""The evolution engine: rounds, concurrency, journal and resume, cache, progress."""

from __future__ import annotations

from evolkit.engine.config import EvolveConfig
from evolkit.engine.result import RunResult
from evolkit.engine.run import aevolve, evolve
from evolkit.engine.stats import Drop, RunStats

__all__ = ["Drop", "EvolveConfig", "RunResult", "RunStats", "aevolve", "evolve"]
