"""One property over every command that calls a model or writes a file: whatever the input
and whenever the server starts failing, the command either finishes with the output of a run
that never failed (at once, or once it is run again against a healthy server), or it ends
non-zero in one line without a traceback; no key given to it is in any file it wrote."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evolkit import Instruction

SEEDS = [Instruction(text=f"Describe a quiet morning in town number {i}.") for i in range(2)]
ROWS = [
    *(Instruction(text=s.text, response=f"Town {i} wakes slowly.", id=s.id)
      for i, s in enumerate(SEEDS)),
    *(Instruction(text=f"{s.text} Use three senses.", parent_id=s.id, operator="x", round=1,
                  response="The bakery smells of bread.") for s in SEEDS),
]  # fmt: skip
MODEL = ["--model", "openai/known", "--api-base", "{url}", "--retries", "0"]
COMMANDS = {
    "evolve": ["evolve", "{data}", "-o", "{out}", *MODEL, "--rounds", "1", "-q"],
    "filter": ["filter", "{data}", "-o", "{out}", "--filters", "information_gain", *MODEL],
    "score": ["score", "{data}", "-o", "{out}", "--scores", "quality", "--cache", "off", "-q",
              *MODEL],
    "export": ["export", "{data}", "{out}", "--format", "alpaca"],
}  # fmt: skip
INPUTS = ["jsonl", "jsonl-in-txt", "json-array", "empty", "directory"]
FAULTS = ["none", "500", "400", "key-echoed"]


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
    """Runs one command in a fresh folder and remembers each clean run's outcome."""

    def __init__(self, cli: Any, server: Any) -> None:
        self.cli = cli
        self.server = server
        self.clean: dict[tuple[str, str], tuple[int, bytes | str]] = {}

    def run(self, command: str, data: Path, out: Path) -> tuple[int, list[str]]:
        given = {"data": str(data), "out": str(out), "url": self.server.url}
        code, err, _ = self.cli([part.format(**given) for part in COMMANDS[command]])
        return code, err

    def outcome(self, code: int, err: list[str], out: Path) -> tuple[int, bytes | str]:
        if code == 0:
            return 0, out.read_bytes()
        assert len(err) == 1 and err[0].startswith("error: "), err
        assert "Traceback" not in err[0]
        return code, err[0].split(": ", 2)[-1]  # the line, without the folder's path

    def reference(self, command: str, kind: str) -> tuple[int, bytes | str]:
        if (command, kind) not in self.clean:
            self.heal()
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                data, out = make_input(kind, folder), folder / "out.jsonl"
                code, err = self.run(command, data, out)
                self.clean[command, kind] = self.outcome(code, err, out)
        return self.clean[command, kind]

    def heal(self) -> None:
        self.server.fail_after = None
        self.server.echo_key_status = None


@pytest.fixture
def runs(cli: Any, server: Any, good_key: str) -> Runs:
    return Runs(cli, server)


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
    moment=st.sampled_from([0, 2, 5, 9]),
)
@example(command="evolve", kind="jsonl-in-txt", fault="500", moment=2)
@example(command="score", kind="jsonl", fault="key-echoed", moment=0)
@example(command="filter", kind="json-array", fault="400", moment=3)
def test_every_command_completes_exactly_or_fails_in_one_line_and_leaks_no_key(
    command: str, kind: str, fault: str, moment: int, runs: Runs, good_key: str
) -> None:
    reference = runs.reference(command, kind)
    server = runs.server
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data, out = make_input(kind, folder), folder / "out.jsonl"
        if fault == "key-echoed":
            server.echo_key_status = 400
        elif fault != "none":
            server.fail_status = int(fault)
            server.fail_after = server.answered + moment  # the server fails from here on
        code, err = runs.run(command, data, out)
        got = runs.outcome(code, err, out)
        assert good_key not in written(folder, data) and good_key not in "".join(err)
        runs.heal()
        if code != 0 and reference[0] == 0:  # stopped: running it again completes it
            code, err = runs.run(command, data, out)
            got = runs.outcome(code, err, out)
        assert got == reference
        assert good_key not in written(folder, data)
