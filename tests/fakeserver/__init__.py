"""The tests' fake OpenAI-compatible model server, with injectable faults (429, 500, 503,
timeouts, dropped connections, malformed bodies): see :mod:`fakeserver.server`.

It is evolkit's own test helper, not part of the package: the tests import it as
``fakeserver`` (``pythonpath`` in pyproject.toml), the benchmarks after putting ``tests/`` on
``sys.path``; ``python -m fakeserver`` serves it from a shell.
"""

from __future__ import annotations

from fakeserver._faults import FAULT_KINDS, FaultKind, FaultPlan, ServerStats, request_key
from fakeserver._process import ServerProcess
from fakeserver.server import FakeServer

__all__ = [
    "FAULT_KINDS",
    "FakeServer",
    "FaultKind",
    "FaultPlan",
    "ServerProcess",
    "ServerStats",
    "request_key",
]
