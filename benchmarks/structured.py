"""Constrained replies against plain text, side by side on the same seeds and the same model.

Reads two finished one-round runs of the same seeds, one with ``--structured on`` and one with
``--structured off`` (same model, same ``--seed``, so each seed meets the same operator), and
prints per operator: evolutions attempted, the share whose reply was well formed (not dropped
as ``unfit_reply`` or ``empty_rewrite``), the share that parsed (not dropped at the ``mutate`` or
``parse`` stage, where the operator's own checks also drop a rewrite that is too long, unchanged
or an answer), the share kept, the drop reasons, and, when ``--labels`` names a file of verdicts
read by hand (one JSON object a line: ``{"id", "good": true|false}``), the kept rows a careful
reader finds good. ``--drop-labels`` does the same for the dropped rewrites
(``{"key", "good"}``, the key from :func:`drop_key`), to count the good ones the eliminator
threw away. ``--more NAME=OUT`` sets more runs beside the two (a variant), and pools the runs
given one name (the same mode with another ``--seed``).
``--sheet`` writes every kept and dropped rewrite of every run beside its seed, to read and
label.

    for M in on off; do
      evolkit evolve SEEDS -o out-$M.jsonl --rounds 1 --cache off --no-respond --structured $M
    done
    python benchmarks/structured.py out-on.jsonl out-off.jsonl --sheet sheet.md
    python benchmarks/structured.py out-on.jsonl out-off.jsonl \
        --labels benchmarks/structured_labels.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

PARSE_STAGES = ("mutate", "parse")
#: The drops whose reply did not have the asked-for form at all (no JSON that fits, no rewrite);
#: the other parse-stage drops are the operator's checks on a well-formed rewrite.
MALFORMED = ("unfit_reply", "empty_rewrite")
COUNTS = ("attempted", "unparsed", "malformed", "kept", "good", "read", "good_dropped")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


Run = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]


def load_run(out: Path) -> Run:
    """The evolved rows kept, the drops of round 1, and each seed's instruction by id."""
    workdir = out.with_name(out.name + ".evolkit")
    rows = [r for r in read_jsonl(out) if r["round"] >= 1]
    drops = read_jsonl(workdir / "drops-0001.jsonl")
    seeds = {r["id"]: r["instruction"] for r in read_jsonl(workdir / "round-0000.jsonl")}
    return rows, drops, seeds


def drop_key(drop: dict[str, Any]) -> str:
    """The key a dropped rewrite is labelled under: its parent and its text."""
    return hashlib.sha256(f"{drop['parent_id']}\n{drop['text']}".encode()).hexdigest()[:16]


def pooled(one: Run, other: Run) -> Run:
    """Two runs counted as one (the same mode with another ``--seed``)."""
    return one[0] + other[0], one[1] + other[1], {**one[2], **other[2]}


def per_operator(
    rows: list[dict[str, Any]],
    drops: list[dict[str, Any]],
    good: dict[str, bool],
    good_drops: dict[str, bool],
) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(COUNTS, 0) | {"why": Counter()}
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
        line["malformed"] += drop["reason"].split(":")[0] in MALFORMED
        line["good_dropped"] += good_drops.get(drop_key(drop), False)
        line["why"][drop["reason"]] += 1
    return dict(sorted(table.items()))


def total(table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"why": Counter()}
    for key in COUNTS:
        out[key] = sum(line[key] for line in table.values())
    for line in table.values():
        out["why"].update(line["why"])
    return out


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.2f})" if whole else "-"


def print_table(
    tables: dict[str, dict[str, dict[str, Any]]], labelled: bool, drops_labelled: bool
) -> None:
    head = "| operator | mode | attempted | well-formed | parsed | kept |"
    head += " good kept |" if labelled else ""
    head += " good dropped |" if drops_labelled else ""
    print(head + " drops |")
    print("|---" * (head.count("|") - 1 + 1) + "|")
    operators = [*sorted({op for table in tables.values() for op in table}), "all"]
    for op in operators:
        for mode, table in tables.items():
            line = total(table) if op == "all" else table.get(op)
            if line is None:
                continue
            parsed = line["attempted"] - line["unparsed"]
            formed = line["attempted"] - line["malformed"]
            cells = [op, mode, str(line["attempted"]), share(formed, line["attempted"])]
            cells.append(share(parsed, line["attempted"]))
            cells.append(share(line["kept"], line["attempted"]))
            if labelled:
                cells.append(f"{line['good']} (of {line['read']} read)")
            if drops_labelled:
                cells.append(str(line["good_dropped"]))
            why = ", ".join(f"{r} {n}" for r, n in line["why"].most_common()) or "-"
            print("| " + " | ".join(cells) + f" | {why} |")


def write_sheet(path: Path, runs: dict[str, Run]) -> None:
    lines = ["# Rewrites, to read", ""]
    for mode, (rows, drops, seeds) in runs.items():
        lines += [f"## structured {mode}", ""]
        for row in sorted(rows, key=lambda r: r["operator"]):
            seed = seeds.get(row["parent_id"], "?")
            data = f"\n- input: {row['input']}" if row["input"] else ""
            lines += [f"### {row['id']} ({row['operator']})", f"- seed: {seed}"]
            lines += [f"- rewrite: {row['instruction']}{data}", ""]
        lines += [f"## structured {mode}: dropped", ""]
        for drop in drops:
            if drop["stage"] in (*PARSE_STAGES, "filter"):
                seed = seeds.get(drop["parent_id"], "?")
                lines += [f"### {drop_key(drop)} ({drop['operator']}, {drop['reason']})"]
                lines += [f"- seed: {seed}", f"- rewrite: {drop['text']}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("on", type=Path, help="the output of the --structured on run")
    parser.add_argument("off", type=Path, help="the output of the --structured off run")
    parser.add_argument(
        "--more",
        action="append",
        default=[],
        metavar="NAME=OUT",
        help="another run to set beside them (a variant), named NAME; a NAME given twice, or "
        "'on' or 'off', pools the runs (the same mode with another --seed)",
    )
    parser.add_argument("--labels", type=Path, default=None, help="verdicts read by hand")
    parser.add_argument(
        "--drop-labels",
        type=Path,
        default=None,
        help="verdicts read by hand on the dropped rewrites ({'key', 'good'}, the key from "
        "drop_key): counts the good rewrites the eliminator dropped",
    )
    parser.add_argument(
        "--sheet", type=Path, default=None, help="write the kept and dropped rewrites here"
    )
    args = parser.parse_args(argv)
    good = {r["id"]: bool(r["good"]) for r in read_jsonl(args.labels)} if args.labels else {}
    named = [("on", args.on), ("off", args.off)]
    for more in args.more:
        name, sep, out = more.partition("=")
        if not sep or not name or not out:
            parser.error(f"--more {more!r}: give NAME=OUT")
        named.append((name, Path(out)))
    runs: dict[str, Run] = {}
    for name, out in named:
        try:
            run = load_run(out)
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f"cannot read the run {out}: {exc}")
        runs[name] = pooled(runs[name], run) if name in runs else run
    good_drops = {}
    if args.drop_labels:
        good_drops = {r["key"]: bool(r["good"]) for r in read_jsonl(args.drop_labels)}
    tables = {
        mode: per_operator(rows, drops, good, good_drops) for mode, (rows, drops, _) in runs.items()
    }
    print_table(tables, labelled=bool(good), drops_labelled=bool(good_drops))
    if args.sheet:
        write_sheet(args.sheet, runs)
        print(f"kept and dropped rewrites written to {args.sheet}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
