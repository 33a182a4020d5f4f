"""evolkit-code: evolve programming tasks the WizardCoder way, and check the Python answers.

Operators (kind ``"code"``, used only when selected, e.g. ``--operators code``):
``code.add_constraint``, ``code.rarer_requirement``, ``code.more_reasoning``,
``code.misdirection`` (adds a short piece of erroneous code) and ``code.complexity``
(stricter time or space complexity).

Filter (used only when named): ``code.python_parses`` drops a response whose Python code
blocks do not parse.
"""

from __future__ import annotations

from evolkit_code.filters import (
    PythonParsesFilter,
    code_blocks,
    looks_like_python,
    parses,
    python_blocks,
)
from evolkit_code.operators import (
    ADD_CONSTRAINT,
    CODE_MUTATORS,
    COMPLEXITY,
    MISDIRECTION,
    MORE_REASONING,
    RARER_REQUIREMENT,
    SnippetMutator,
    has_code_snippet,
)

__all__ = [
    "ADD_CONSTRAINT",
    "CODE_MUTATORS",
    "COMPLEXITY",
    "MISDIRECTION",
    "MORE_REASONING",
    "RARER_REQUIREMENT",
    "PythonParsesFilter",
    "SnippetMutator",
    "code_blocks",
    "has_code_snippet",
    "looks_like_python",
    "parses",
    "python_blocks",
]

__version__ = "0.1.0"
