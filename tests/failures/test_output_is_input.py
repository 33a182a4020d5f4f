"""No command writes over the file it reads: an output that is the input, by another name, a
symlink or a hard link, is refused in one line before anything is read or paid for."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from evolkit import Instruction

COMMANDS = {
    "evolve": ["evolve", "{data}", "-o", "{out}", "--model", "openai/known", "--api-base",
               "{url}", "--rounds", "1", "-q"],
    "export": ["export", "{data}", "{out}", "--format", "alpaca"],
    "filter": ["filter", "{data}", "-o", "{out}", "--filters", "information_gain", "--model",
               "openai/known", "--api-base", "{url}"],
    "score": ["score", "{data}", "-o", "{out}", "--scores", "complexity", "-q"],
    "select": ["select", "{data}", "-o", "{out}", "--budget", "2", "--by", "complexity"],
}  # fmt: skip


def rows_file(path: Path) -> bytes:
    seeds = [Instruction(text=f"Name {n} birds that sing at dawn.") for n in ("three", "four")]
    children = [
        Instruction(text=f"{s.text} Give one fact each.", parent_id=s.id, operator="x", round=1)
        for s in seeds
    ]
    data = "".join(json.dumps(r.to_record()) + "\n" for r in [*seeds, *children]).encode()
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_the_input_is_refused(
    command: str, spelling: str, tmp_path: Path, cli: Any, request: pytest.FixtureRequest
) -> None:
    calls_model = "{url}" in COMMANDS[command]
    server = request.getfixturevalue("server") if calls_model else None
    if calls_model:
        request.getfixturevalue("good_key")
    data = tmp_path / "data.jsonl"
    before = rows_file(data)
    out = tmp_path / "out.jsonl"
    if spelling == "same":
        out = tmp_path / "." / "data.jsonl"
    elif spelling == "symlink":
        out.symlink_to(data)
    else:
        os.link(data, out)
    given = {"data": str(data), "out": str(out), "url": server.url if server else ""}
    code, err, _ = cli([part.format(**given) for part in COMMANDS[command]])
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "is the input" in err[0] and "Traceback" not in err[0]
    assert data.read_bytes() == before  # the input is untouched
    assert server is None or server.posts == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"data.jsonl", out.name})
