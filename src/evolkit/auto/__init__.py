"""Auto Evol-Instruct: an evolving method that an optimizer model fits to your data and model.

- :func:`optimize` / :func:`aoptimize`: from a seed set and a held-out dev set, a fitted
  :class:`Method` (and the trajectory of every step's candidates and dev failure rates).
- :class:`Method`: the method file (TOML): ``Method.load(path)``, ``method.save(path)``,
  ``method.mutator()`` (the operator ``evolkit evolve --method`` runs).
- :class:`MethodPlugin`: a plugin object registering a method's operator; a package that ships a
  method file registers ``Method.load(...).mutator()`` in its ``evolkit_register_mutators``.
- :data:`INITIAL_METHOD`: the universal starting method.
"""

from __future__ import annotations

from evolkit.auto._method import CandidateScore, Fitted, Method, StepRecord
from evolkit.auto._optimize import OptimizeResult, aoptimize, optimize
from evolkit.auto._prompts import INITIAL_METHOD
from evolkit.auto._record import StepView, read_trajectory, trajectory_path
from evolkit.auto._subruns import MethodPlugin

__all__ = [
    "INITIAL_METHOD",
    "CandidateScore",
    "Fitted",
    "Method",
    "MethodPlugin",
    "OptimizeResult",
    "StepRecord",
    "StepView",
    "aoptimize",
    "optimize",
    "read_trajectory",
    "trajectory_path",
]
