"""Evolve a seed file from Python, read the counts, and follow one instruction back to its seed.

python examples/evolve_api.py                          # offline, with the fake model
python examples/evolve_api.py --model gpt-4o-mini      # any model litellm reaches
python examples/evolve_api.py --model local/smollm2    # the embedded local model
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import evolkit

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake/demo", help="model string (default: fake/demo)")
    parser.add_argument("--seeds", type=Path, default=HERE / "seeds.jsonl")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=None, help="data set to write")
    args = parser.parse_args(argv)
    output = args.output or Path(tempfile.mkdtemp(prefix="evolkit-")) / "out.jsonl"

    result = evolkit.evolve(
        args.seeds,
        rounds=args.rounds,
        model=args.model,
        output=output,  # streams rows to disk; the same call again resumes
        seed=0,  # operators are drawn with this seed: same seed, same run
        concurrency=8,
    )

    stats = result.stats
    print(f"{stats.rows} rows from {stats.seeds} seeds in {stats.rounds} rounds -> {output}")
    for round_, rows in sorted(stats.rows_per_round.items()):
        print(f"  round {round_}: {rows} rows")
    for op, tried in sorted(stats.attempted_per_operator.items()):
        print(f"  {op}: kept {stats.kept_per_operator.get(op, 0)} of {tried}")
    print(f"  drop reasons: {dict(stats.drop_reasons) or 'none'}")
    print(f"  tokens: {stats.usage.total_tokens}, cost: ${stats.usage.cost:.4f}")

    # Every row names its parent, operator and round: follow the newest row back to its seed.
    newest = max(result, key=lambda inst: (inst.round, inst.id))
    for step in result.lineage(newest.id):
        label = "seed" if step.is_seed else f"round {step.round} ({step.operator})"
        print(f"{label:>32}: {step.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
