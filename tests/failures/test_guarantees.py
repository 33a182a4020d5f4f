"""One property over every command that calls a model or writes a file: whatever the input,
whenever the server starts failing and whenever the command is stopped (SIGINT, SIGTERM or
SIGKILL after a number of answered calls), the command either finishes with the output of a
run that never failed (at once, or once it is run again against a healthy server), or it ends
non-zero in one line without a traceback (a SIGKILL excepted: it leaves no line); no key given
to it is in any file it wrote.

Failing servers are met in this process, through litellm; a stopped command runs in a child
process speaking the ``openai-compatible`` transport without its price lookup (``PRELUDE``), so
that it starts in about a second, and its clean run and its run again use that transport too.
"""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evolkit import Instruction
from evolkit.engine.interrupts import INTERRUPTED, INTERRUPTED_STATUS
from process_tools import LEAKS, handles_signals, lines, spawn, wait_for

SEEDS = [Instruction(text=f"Describe a quiet morning in town number {i}.") for i in range(2)]
ROWS = [
    *(Instruction(text=s.text, response=f"Town {i} wakes slowly.", id=s.id)
      for i, s in enumerate(SEEDS)),
    *(Instruction(text=f"{s.text} Use three senses.", parent_id=s.id, operator="x", round=1,
                  response="The bakery smells of bread.") for s in SEEDS),
]  # fmt: skip
LITELLM, LEAN = "openai/known", "openai-compatible/known"
PRELUDE = "import evolkit.backends.openai_compat as c\nc._prices = lambda model: (0.0, 0.0)"
MODEL = ["--model", "{model}", "--api-base", "{url}", "--retries", "0"]
COMMANDS = {
    "evolve": ["evolve", "{data}", "-o", "{out}", *MODEL, "--rounds", "1", "-q"],
    "filter": ["filter", "{data}", "-o", "{out}", "--filters", "information_gain", *MODEL],
    "score": ["score", "{data}", "-o", "{out}", "--scores", "quality", "--cache", "off", "-q",
              *MODEL],
    "export": ["export", "{data}", "{out}", "--format", "alpaca"],
}  # fmt: skip
INPUTS = ["jsonl", "jsonl-in-txt", "json-array", "empty", "directory"]
STOPS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}
FAULTS = ["none", "500", "400", "key-echoed", *STOPS]
Outcome = tuple[int, bytes | str]


def make_input(kind: str, folder: Path) -> Path:
    records = [r.to_record() for r in ROWS]
    name = {"jsonl-in-txt": "rows.txt", "json-array": "rows"}.get(kind, "rows.jsonl")
    data = folder / name
    if kind == "directory":
        data.mkdir()
    elif kind == "empty":
        data.write_text("")
    elif kind == "json-array":
        data.write_text(json.dumps(records, indent=1))
    else:
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
    return data


def written(folder: Path, skip: Path) -> str:
    files = [p for p in folder.rglob("*") if p.is_file() and p != skip]
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in files)


class Runs:
    """Runs one command in a fresh folder, here or in a child it stops, and remembers each
    clean run's outcome."""

    def __init__(self, cli: Any, server: Any) -> None:
        self.cli = cli
        self.server = server
        self.clean: dict[tuple[str, str, str], Outcome] = {}

    def argv(self, command: str, data: Path, out: Path, model: str) -> list[str]:
        given = {"data": str(data), "out": str(out), "url": self.server.url, "model": model}
        return [part.format(**given) for part in COMMANDS[command]]

    def run(self, command: str, data: Path, out: Path, model: str) -> tuple[int, list[str]]:
        code, err, _ = self.cli(self.argv(command, data, out, model))
        return code, err

    def stopped(
        self, command: str, data: Path, out: Path, signum: int, moment: int
    ) -> tuple[int, str]:
        """The command in a child, sent ``signum`` once the server has answered ``moment`` of
        its calls (0: once it handles signals), unless it ended first: exit status, stderr."""
        answered = self.server.answered
        proc = spawn(self.argv(command, data, out, LEAN), prelude=PRELUDE)

        def due() -> bool:
            if moment == 0:
                return handles_signals(proc.pid)
            return self.server.answered >= answered + moment

        try:
            wait_for(lambda: due() or proc.poll() is not None, timeout=60, step=0.005)
            if proc.poll() is None:
                proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=60)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        return proc.returncode, stderr

    def outcome(self, code: int, err: list[str], out: Path) -> Outcome:
        if code == 0:
            return 0, out.read_bytes()
        assert len(err) == 1 and err[0].startswith("error: "), err
        assert "Traceback" not in err[0]
        return code, err[0].split(": ", 2)[-1]  # the line, without the folder's path

    def reference(self, command: str, kind: str, model: str) -> Outcome:
        if (command, kind, model) not in self.clean:
            self.heal()
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                data, out = make_input(kind, folder), folder / "out.jsonl"
                code, err = self.run(command, data, out, model)
                self.clean[command, kind, model] = self.outcome(code, err, out)
        return self.clean[command, kind, model]

    def heal(self) -> None:
        self.server.fail_after = None
        self.server.echo_key_status = None
        self.server.delay = 0.0


@pytest.fixture
def runs(cli: Any, server: Any, good_key: str) -> Runs:
    return Runs(cli, server)


def ended_in_one_line(code: int, stderr: str) -> None:
    """What a stopped command may print: nothing after a SIGKILL, else one line, no leak."""
    if code == -signal.SIGKILL:
        return
    assert not [leak for leak in LEAKS if leak in stderr], stderr
    if code == INTERRUPTED_STATUS:
        assert lines(stderr) == [INTERRUPTED], stderr
    elif code != 0:
        assert len(lines(stderr)) == 1, stderr


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    kind=st.sampled_from(INPUTS),
    fault=st.sampled_from(FAULTS),
    moment=st.sampled_from([0, 1, 3, 7]),
)
@example(command="evolve", kind="jsonl-in-txt", fault="500", moment=2)
@example(command="score", kind="jsonl", fault="key-echoed", moment=0)
@example(command="filter", kind="json-array", fault="400", moment=3)
@example(command="evolve", kind="jsonl", fault="sigkill", moment=5)
@example(command="evolve", kind="json-array", fault="sigint", moment=3)
@example(command="filter", kind="jsonl", fault="sigterm", moment=1)
@example(command="score", kind="jsonl-in-txt", fault="sigkill", moment=2)
@example(command="export", kind="jsonl", fault="sigint", moment=0)
def test_every_command_completes_exactly_or_fails_in_one_line_and_leaks_no_key(
    command: str, kind: str, fault: str, moment: int, runs: Runs, good_key: str
) -> None:
    model = LEAN if fault in STOPS else LITELLM
    reference = runs.reference(command, kind, model)
    server = runs.server
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data, out = make_input(kind, folder), folder / "out.jsonl"
        if fault in STOPS:
            server.delay = 0.02  # the calls come back in waves: a moment falls between two
            code, stderr = runs.stopped(command, data, out, STOPS[fault], moment)
            ended_in_one_line(code, stderr)
            err = lines(stderr)
        else:
            if fault == "key-echoed":
                server.echo_key_status = 400
            elif fault != "none":
                server.fail_status = int(fault)
                server.fail_after = server.answered + moment  # the server fails from here on
            code, err = runs.run(command, data, out, model)
        assert good_key not in written(folder, data) and good_key not in "".join(err)
        runs.heal()
        stopped = code in (INTERRUPTED_STATUS, -signal.SIGKILL)
        if stopped or (code != 0 and reference[0] == 0):  # running it again completes it
            code, err = runs.run(command, data, out, model)
        assert runs.outcome(code, err, out) == reference
        assert good_key not in written(folder, data)
