"""Precision and recall of the eliminator on labelled candidate evolutions.

    python benchmarks/eliminator.py                    # every rule that needs no model
    python benchmarks/eliminator.py --model default    # plus the model judge (embedded model)
    python benchmarks/eliminator.py --model fake/x --json figures.json
    python benchmarks/eliminator.py --model default --ids 149,150,151   # a few cases only

``eliminator_cases.jsonl`` holds candidate evolutions written for this benchmark: each has a
parent, the candidate (text, input, response), the operator that made it, a label (``drop`` or
``keep``), the rule expected to drop it (or the trap a must-keep case sets) and why. Cases
for ``near_duplicate`` carry a ``pool`` of rows from other lineages. ``set`` is ``tuning``
for the cases the rules were adjusted on and ``held_out`` for those written afterwards and
never tuned on; the chain figures are printed for each set too.

Printed figures:

- per rule, run on its own over every case: recall (of the cases labelled with that rule,
  how many it drops) and precision (of the cases it drops, how many are labelled must-drop);
- the whole chain, as a run applies it (registry order, first drop wins, the pool rule after
  the per-candidate rules): recall on must-drop, the share of must-keep kept, precision.

With ``--model``, ``information_gain`` joins the chain and is also measured on its own over the
cases that reach it in the chain (the others never cost a call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from evolkit import Instruction, Verdict
from evolkit._filter_call import apply_filter
from evolkit._plugins import default_plugins
from evolkit._protocols import Backend, ClosableBackend, Filter, PoolFilter
from evolkit.refilter import NoModel, calls_model, operator_prompt

CASES = Path(__file__).with_name("eliminator_cases.jsonl")

# The filter that should drop a case labelled with this rule.
RULE_FILTER = {
    "asks_for_information": "refusal",
    "acknowledgement_only": "refusal",
    "answer_in_instruction": "one_task",
    "piled_tasks": "one_task",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def instructions(case: dict[str, Any]) -> tuple[Instruction, Instruction]:
    parent = Instruction(text=case["parent"]["text"], input=case["parent"]["input"])
    cand = case["candidate"]
    candidate = Instruction(
        text=cand["text"],
        input=cand["input"],
        response=cand["response"] or None,
        parent_id=parent.id,
        operator=case["operator"],
        round=1,
    )
    return parent, candidate


_MEMO: dict[tuple[str, str], Verdict] = {}


async def judge(
    flt: Filter, case: dict[str, Any], backend: Backend, mutators: dict[str, Any]
) -> Verdict:
    """``flt``'s verdict on ``case``, computed once (a model call is not repeated)."""
    key = (flt.name, case["id"])
    if key not in _MEMO:
        _MEMO[key] = await _judge(flt, case, backend, mutators)
    return _MEMO[key]


async def _judge(
    flt: Filter, case: dict[str, Any], backend: Backend, mutators: dict[str, Any]
) -> Verdict:
    parent, candidate = instructions(case)
    if isinstance(flt, PoolFilter):
        index = flt.new_index()
        index.add(parent)
        for row in case.get("pool", []):
            index.add(Instruction(text=row["text"], input=row["input"], id=row["id"]))
        return index.check(candidate)
    prompt = operator_prompt(mutators.get(case["operator"]), parent)
    return await apply_filter(flt, candidate, parent, backend, prompt)


async def chain(
    filters: list[Filter], case: dict[str, Any], backend: Backend, mutators: dict[str, Any]
) -> tuple[Verdict | None, list[str]]:
    """The first drop of ``filters`` in a run's order, and the filters that were asked."""
    ordered = [f for f in filters if not isinstance(f, PoolFilter)]
    ordered += [f for f in filters if isinstance(f, PoolFilter)]
    asked = []
    for flt in ordered:
        asked.append(flt.name)
        verdict = await judge(flt, case, backend, mutators)
        if not verdict.keep:
            return verdict, asked
    return None, asked


def ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


async def measure(cases: list[dict[str, Any]], model: str | None, concurrency: int) -> dict:
    plugins = default_plugins()
    registry = plugins.filters()
    filters = [registry.get(n) for n in registry.defaults()]
    if model is None:
        filters = [f for f in filters if not calls_model(f)]
    mutators = {n: plugins.mutators().get(n) for n in plugins.mutators()}
    backend: Backend = NoModel()
    if model is not None:
        if model == "default":
            from evolkit.backends.default import resolve_model

            model, _ = resolve_model(None)
        backend = plugins.backends().create(model, {})
    limit = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    try:

        async def one_chain(case: dict[str, Any]) -> tuple[Verdict | None, list[str]]:
            async with limit:
                return await chain(filters, case, backend, mutators)

        chained = await asyncio.gather(*(one_chain(c) for c in cases))
        per_rule: dict[str, dict[str, Any]] = {}
        for flt in filters:
            scope = [
                c
                for c, (_, asked) in zip(cases, chained, strict=True)
                if not calls_model(flt) or flt.name in asked
            ]

            async def one(case: dict[str, Any], flt: Filter = flt) -> Verdict:
                async with limit:
                    return await judge(flt, case, backend, mutators)

            verdicts = await asyncio.gather(*(one(c) for c in scope))
            per_rule[flt.name] = rule_figures(flt.name, scope, verdicts)
    finally:
        if isinstance(backend, ClosableBackend):
            await backend.aclose()
    overall = chain_figures(cases, [v for v, _ in chained])
    overall["seconds"] = round(time.perf_counter() - started, 1)
    overall["model"] = model
    per_set = {
        name: chain_figures(
            [c for c in cases if c.get("set") == name],
            [v for c, (v, _) in zip(cases, chained, strict=True) if c.get("set") == name],
        )
        for name in sorted({c.get("set", "all") for c in cases})
    }
    return {"per_rule": per_rule, "overall": overall, "per_set": per_set}


def rule_figures(name: str, cases: list[dict[str, Any]], verdicts: list[Verdict]) -> dict:
    labelled = [c for c in cases if RULE_FILTER.get(c["rule"], c["rule"]) == name]
    dropped = [c for c, v in zip(cases, verdicts, strict=True) if not v.keep]
    caught = [c for c in labelled if c in dropped]
    false_drops = [c["id"] for c in dropped if c["label"] == "keep"]
    return {
        "cases": len(cases),
        "labelled": len(labelled),
        "recall": ratio(len(caught), len(labelled)),
        "precision": ratio(sum(c["label"] == "drop" for c in dropped), len(dropped)),
        "missed": [c["id"] for c in labelled if c not in caught],
        "false_drops": false_drops,
    }


def chain_figures(cases: list[dict[str, Any]], drops: list[Verdict | None]) -> dict:
    must_drop = [d for c, d in zip(cases, drops, strict=True) if c["label"] == "drop"]
    must_keep = [d for c, d in zip(cases, drops, strict=True) if c["label"] == "keep"]
    dropped = [c for c, d in zip(cases, drops, strict=True) if d is not None]
    by = defaultdict(int)
    for d in drops:
        if d is not None:
            by[f"{d.filter}:{d.reason}"] += 1
    return {
        "cases": len(cases),
        "must_drop": len(must_drop),
        "must_keep": len(must_keep),
        "recall_must_drop": ratio(sum(d is not None for d in must_drop), len(must_drop)),
        "kept_must_keep": ratio(sum(d is None for d in must_keep), len(must_keep)),
        "precision": ratio(sum(c["label"] == "drop" for c in dropped), len(dropped)),
        "missed": [
            c["id"] for c, d in zip(cases, drops, strict=True) if c["label"] == "drop" and d is None
        ],
        "false_drops": [
            f"{c['id']} ({d.filter}:{d.reason})"
            for c, d in zip(cases, drops, strict=True)
            if c["label"] == "keep" and d is not None
        ],
        "drops_by_reason": dict(sorted(by.items())),
    }


def report(figures: dict) -> None:
    overall = figures["overall"]
    print(f"model: {overall['model'] or 'none (rules without a model call)'}")
    print(f"{'rule':<18}{'labelled':>9}{'recall':>9}{'precision':>11}  missed / false drops")
    for name, fig in figures["per_rule"].items():
        notes = " ".join(fig["missed"]) or "-"
        false = " ".join(fig["false_drops"]) or "-"
        print(
            f"{name:<18}{fig['labelled']:>9}{fmt(fig['recall']):>9}{fmt(fig['precision']):>11}"
            f"  missed {notes}; false {false}"
        )
    print(
        f"chain: {overall['cases']} cases ({overall['must_drop']} must-drop, "
        f"{overall['must_keep']} must-keep): recall on must-drop "
        f"{fmt(overall['recall_must_drop'])}, must-keep kept {fmt(overall['kept_must_keep'])}, "
        f"precision {fmt(overall['precision'])}, {overall['seconds']} s"
    )
    for name, fig in figures["per_set"].items():
        print(
            f"  {name}: {fig['cases']} cases, recall on must-drop {fmt(fig['recall_must_drop'])},"
            f" must-keep kept {fmt(fig['kept_must_keep'])}, precision {fmt(fig['precision'])}"
        )
    print(f"missed: {' '.join(overall['missed']) or '-'}")
    print(f"false drops: {' '.join(overall['false_drops']) or '-'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--model", default=None, help="'default' for the embedded model")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--ids", default=None, help="only these case ids, comma-separated")
    args = parser.parse_args(argv)
    cases = load(args.cases)
    if args.ids:
        wanted = {i.strip() for i in args.ids.split(",") if i.strip()}
        cases = [c for c in cases if c["id"] in wanted]
        if not cases:
            parser.error(f"no case has an id among {sorted(wanted)}")
    figures = asyncio.run(measure(cases, args.model, args.concurrency))
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
