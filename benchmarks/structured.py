"""Constrained replies against plain text, side by side on the same seeds and the same model.

Reads two finished one-round runs of the same seeds, one with ``--structured on`` and one with
``--structured off`` (same model, same ``--seed``, so each seed meets the same operator), and
prints per operator: evolutions attempted, the share whose reply parsed (not dropped at the
``mutate`` or ``parse`` stage), the share kept, the drop reasons, and, when ``--labels`` names
a file of verdicts read by hand (one JSON object a line: ``{"id", "good": true|false}``), the
kept rows a careful reader finds good. ``--sheet`` writes every kept row of both runs beside
its seed, to read and label.

    for M in on off; do
      evolkit evolve SEEDS -o out-$M.jsonl --rounds 1 --cache off --no-respond --structured $M
    done
    python benchmarks/structured.py out-on.jsonl out-off.jsonl --sheet sheet.md
    python benchmarks/structured.py out-on.jsonl out-off.jsonl \
        --labels benchmarks/structured_labels.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

PARSE_STAGES = ("mutate", "parse")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_run(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The evolved rows kept, the drops of round 1, and each seed's instruction by id."""
    workdir = out.with_name(out.name + ".evolkit")
    rows = [r for r in read_jsonl(out) if r["round"] >= 1]
    drops = read_jsonl(workdir / "drops-0001.jsonl")
    seeds = {r["id"]: r["instruction"] for r in read_jsonl(workdir / "round-0000.jsonl")}
    return rows, drops, seeds


def per_operator(
    rows: list[dict[str, Any]], drops: list[dict[str, Any]], good: dict[str, bool]
) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"attempted": 0, "unparsed": 0, "kept": 0, "good": 0, "read": 0, "why": Counter()}
    )
    for row in rows:
        line = table[row["operator"]]
        line["attempted"] += 1
        line["kept"] += 1
        if row["id"] in good:
            line["read"] += 1
            line["good"] += good[row["id"]]
    for drop in drops:
        line = table[drop["operator"]]
        line["attempted"] += 1
        line["unparsed"] += drop["stage"] in PARSE_STAGES
        line["why"][drop["reason"]] += 1
    return dict(sorted(table.items()))


def total(table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"why": Counter()}
    for key in ("attempted", "unparsed", "kept", "good", "read"):
        out[key] = sum(line[key] for line in table.values())
    for line in table.values():
        out["why"].update(line["why"])
    return out


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.2f})" if whole else "-"


def print_table(tables: dict[str, dict[str, dict[str, Any]]], labelled: bool) -> None:
    head = "| operator | mode | attempted | parsed | kept |" + (" good kept |" if labelled else "")
    print(head + " drops |")
    print("|---" * (head.count("|") - 1 + 1) + "|")
    operators = [*sorted({op for table in tables.values() for op in table}), "all"]
    for op in operators:
        for mode, table in tables.items():
            line = total(table) if op == "all" else table.get(op)
            if line is None:
                continue
            parsed = line["attempted"] - line["unparsed"]
            cells = [op, mode, str(line["attempted"]), share(parsed, line["attempted"])]
            cells.append(share(line["kept"], line["attempted"]))
            if labelled:
                cells.append(f"{line['good']} (of {line['read']} read)")
            why = ", ".join(f"{r} {n}" for r, n in line["why"].most_common()) or "-"
            print("| " + " | ".join(cells) + f" | {why} |")


def write_sheet(path: Path, runs: dict[str, tuple[list, list, dict]]) -> None:
    lines = ["# Kept rows, to read", ""]
    for mode, (rows, _, seeds) in runs.items():
        lines += [f"## structured {mode}", ""]
        for row in sorted(rows, key=lambda r: r["operator"]):
            seed = seeds.get(row["parent_id"], "?")
            data = f"\n- input: {row['input']}" if row["input"] else ""
            lines += [f"### {row['id']} ({row['operator']})", f"- seed: {seed}"]
            lines += [f"- rewrite: {row['instruction']}{data}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("on", type=Path, help="the output of the --structured on run")
    parser.add_argument("off", type=Path, help="the output of the --structured off run")
    parser.add_argument("--labels", type=Path, default=None, help="verdicts read by hand")
    parser.add_argument("--sheet", type=Path, default=None, help="write the kept rows here")
    args = parser.parse_args(argv)
    good = {r["id"]: bool(r["good"]) for r in read_jsonl(args.labels)} if args.labels else {}
    runs = {"on": load_run(args.on), "off": load_run(args.off)}
    tables = {mode: per_operator(rows, drops, good) for mode, (rows, drops, _) in runs.items()}
    print_table(tables, labelled=bool(good))
    if args.sheet:
        write_sheet(args.sheet, runs)
        print(f"kept rows written to {args.sheet}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
