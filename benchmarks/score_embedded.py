"""``evolkit score`` with the embedded model over a run's output: did the round get harder?

Scores every row of OUT (difficulty, quality, complexity along the lineage, and embedding
diversity) with the default model (the embedded Qwen2.5-Coder-1.5B through llama.cpp, or
``--model``), then prints the mean of each score per round and per operator, how many replies
could not be read, the calls and tokens, and the wall time. Make OUT first with the README's
main command (one round is enough, and slow enough, on a CPU)::

    evolkit evolve examples/seeds.jsonl -o /tmp/x.jsonl --rounds 1
    python benchmarks/score_embedded.py /tmp/x.jsonl

Scores go into OUT's rows (as ``evolkit score`` does); running it again is answered from the
journal in ``OUT.evolkit/``, so pass ``--fresh`` to measure the calls again.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from evolkit.score import score
from evolkit.score._run import JOURNAL_NAME


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a run's output (.jsonl)")
    parser.add_argument("--model", default=None, help="judge model (default: the embedded one)")
    parser.add_argument("--scores", default="difficulty,quality,complexity,diversity")
    parser.add_argument("--fresh", action="store_true", help="forget journaled score calls")
    args = parser.parse_args()
    if args.fresh:
        journal = args.data.with_name(args.data.name + ".evolkit") / JOURNAL_NAME
        for path in journal.parent.glob(JOURNAL_NAME + "*"):
            path.unlink()
    copy = args.data.with_name(args.data.name + ".unscored")
    if not copy.exists():
        shutil.copyfile(args.data, copy)  # keep the rows as the run wrote them
    started = time.monotonic()
    report = score(args.data, scores=args.scores, model=args.model, cache=None)
    wall = time.monotonic() - started
    print(f"rows {report.rows} · scorers {', '.join(report.scorers)} · wall {wall:.0f}s")
    print(f"calls {report.calls} · failed scores {report.failed} {dict(report.failures)}")
    for name, usage in report.usage.items():
        print(f"  {name}: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tok")
    table = report.table
    for title, groups in (("round", table.per_round), ("operator", table.per_operator)):
        print(f"mean per {title}:")
        for key in sorted(groups, key=str):
            cells = groups[key]
            label = ("seeds" if key == 0 else str(key)) if title == "round" else key
            parts = [f"{n} {cells[n][0]:.2f} (n={cells[n][1]})" for n in table.names if n in cells]
            print(f"  {label:<26} " + " · ".join(parts))


if __name__ == "__main__":
    main()
