"""Seeds are read by what they hold, not by their file name: JSONL in ``seeds.txt``, a JSON
array in a file without an extension, and JSONL through a pipe (``<(cat seeds.jsonl)``), read
once."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

SEEDS = [f"List {n} ways to save water at home." for n in ("two", "three", "four")]
ROWS = [{"instruction": s, "input": ""} for s in SEEDS]


def jsonl() -> str:
    return "".join(json.dumps(r) + "\n" for r in ROWS)


def written(out: Path) -> list[str]:
    return sorted(json.loads(line)["instruction"] for line in out.read_text().splitlines())


@pytest.mark.parametrize("kind", ["jsonl-named-txt", "json-array-no-extension", "pipe"])
def test_json_seeds_are_found_by_content(
    kind: str, tmp_path: Path, server: Any, good_key: str, cli: Any, evolve_argv: Any
) -> None:
    writer = None
    if kind == "jsonl-named-txt":
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(jsonl(), encoding="utf-8")
    elif kind == "json-array-no-extension":
        seeds = tmp_path / "seeds"
        seeds.write_text(json.dumps(ROWS, indent=2), encoding="utf-8")
    else:
        read_end, write_end = os.pipe()  # what bash's <(cat seeds.jsonl) hands over

        def feed() -> None:
            with os.fdopen(write_end, "w", encoding="utf-8") as fh:
                fh.write(jsonl())

        writer = threading.Thread(target=feed)
        writer.start()
        seeds = Path(f"/dev/fd/{read_end}")
    out = tmp_path / "out.jsonl"
    try:
        code, err, _ = cli(evolve_argv(seeds, out, server.url, rounds=0))
    finally:
        if writer is not None:
            writer.join(5)
            os.close(read_end)
    assert code == 0, err
    assert written(out) == sorted(SEEDS)  # the instructions, not the raw JSON lines
    assert server.answered == len(SEEDS)
