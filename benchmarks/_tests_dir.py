"""Puts the repository's ``tests/`` folder on ``sys.path``, so that a benchmark can use the
tests' fake model server: ``import _tests_dir`` before ``from fakeserver import ...``."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
