"""One test per defect of the issue "nothing lost, nothing wrong, nothing leaked", each run
through the real command line in a child process against a loopback fault server, checking
the data left behind (rows, null outputs, scores, request counts, journal sizes, the files
written, no key in them), not only the exit code. The probes themselves are in
``tests/cli_probes.py``, shared with ``benchmarks/probes.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_probes import PER_DEFECT, PROBES


@pytest.mark.slow
@pytest.mark.parametrize("name", PER_DEFECT)
def test_defect_stays_fixed(name: str, tmp_path: Path) -> None:
    assert PROBES[name](tmp_path), f"the probe {name!r} did not hold"
