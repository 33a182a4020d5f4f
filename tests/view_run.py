"""A small run written straight to disk in evolkit's own format, for the view's tests.

The rows go to ``OUT`` (kept rows, ``Instruction.to_record``), the drops to
``OUT.evolkit/drops-000r.jsonl`` (``Drop.to_record``) and the counts and settings to
``OUT.run.json``, the way a run leaves them, so every case the tests need is there on purpose:
a lineage over two rounds, drops of three kinds, and a seed that carries an XSS payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evolkit import Instruction
from evolkit.engine.stats import Drop, RunStats
from evolkit.engine.workdir import WorkDir, summary_path

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> Summarise this.'
FILTERS_USED = ["not_instruction", "near_copy", "growth", "one_task", "template_leak"]

SEED = Instruction(
    text="Explain why metal feels colder than wood.",
    response="Metal conducts heat away from the skin faster than wood does.",
)
GOOD = Instruction(
    text="Explain why metal feels colder than wood, and compare the heat conductivity of copper "
    "and oak with one measured figure for each.",
    parent_id=SEED.id,
    operator="depth.add_constraints",
    round=1,
    response="Copper conducts about 400 W/mK, oak about 0.17 W/mK.",
    metadata={"growth": {"added_words": 16, "target": "within"}, "scores": {"complexity": 7.5}},
)
COPY = Instruction(
    text="Explain why metal feels colder than wood please.",
    parent_id=SEED.id,
    operator="depth.deepen",
    round=1,
    response="Because metal conducts heat.",
)
PILED = Instruction(
    text="Explain why metal feels colder than wood. Also write a poem about cats. Also list five "
    "capitals of Europe.",
    parent_id=SEED.id,
    operator="breadth.mutate",
    round=1,
    response="Three answers.",
)
GRANDCHILD = Instruction(
    text="Explain why metal feels colder than wood, and compare the heat conductivity of copper "
    "and oak with one measured figure for each, then say which would make a warmer door handle.",
    parent_id=GOOD.id,
    operator="depth.increase_reasoning",
    round=2,
    response="Oak: it draws less heat from the hand.",
    metadata={"scores": {"complexity": 9.0}},
)
XSS_SEED = Instruction(text=XSS, response=f"An answer that repeats it: {XSS}")
XSS_CHILD = Instruction(
    text=XSS + " Use <b>three</b> bullet points & quote the title.",
    parent_id=XSS_SEED.id,
    operator="depth.add_constraints",
    round=1,
    response='<img src=x onerror="window.__xss = 3">',
)
TEMPLATE = Drop(
    1,
    SEED.id,
    "depth.concretize",
    "filter",
    "template_leak",
    "template_leak",
    "Sure! Here is the rewritten instruction:",
    metadata={"phrase": "rewritten instruction"},
)
REFUSED = Drop(
    1,
    SEED.id,
    "depth.deepen",
    "parse",
    "depth.deepen",
    "refused",
    "I'm sorry, but I can't help with rewriting that.",
)
FAILED = Drop(2, GOOD.id, "depth.deepen", "mutate", "depth.deepen", "call_failed", None)
XSS_DROP = Drop(1, XSS_SEED.id, "depth.deepen", "parse", "depth.deepen", "refused", XSS)

ROWS = (SEED, XSS_SEED, GOOD, COPY, PILED, XSS_CHILD, GRANDCHILD)
DROPS = (TEMPLATE, REFUSED, XSS_DROP, FAILED)


def write_run(
    out: Path,
    rows: Iterable[Instruction] = ROWS,
    drops: Iterable[Drop] = DROPS,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``rows`` and ``drops`` as a finished run at ``out``; return ``out``."""
    rows, drops = list(rows), list(drops)
    with out.open("w", encoding="utf-8") as fh:
        for inst in rows:
            fh.write(json.dumps(inst.to_record(), ensure_ascii=False) + "\n")
    workdir = WorkDir.for_output(out)
    workdir.ensure()
    rounds = max([i.round for i in rows] + [d.round for d in drops], default=0)
    for r in range(rounds + 1):
        with workdir.drops(r).open("w", encoding="utf-8") as fh:
            for drop in drops:
                if drop.round == r:
                    fh.write(json.dumps(drop.to_record(), ensure_ascii=False) + "\n")
    per_round: dict[int, int] = {}
    for inst in rows:
        per_round[inst.round] = per_round.get(inst.round, 0) + 1
    stats = RunStats(seeds=per_round.get(0, 0), rounds=rounds, rows_per_round=per_round)
    report = {
        "status": "complete",
        "stats": stats.to_json(),
        "settings": dict(settings or {"filters_used": FILTERS_USED}),
    }
    summary_path(out).write_text(json.dumps(report), encoding="utf-8")
    return out
