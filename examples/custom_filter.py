"""Write an eliminator filter, test it without a model, and add it to a run.

python examples/custom_filter.py                       # offline, with the fake model
python examples/custom_filter.py --model gpt-4o-mini
"""

from __future__ import annotations

import argparse

import evolkit
from evolkit import Backend, Instruction, Verdict
from evolkit.plugins import FilterRegistry, Plugins
from evolkit.testing import run_filter


class AddsEnough:
    """Drops a rewrite that adds fewer than `min_words` words to its parent.

    A filter is any object with `name`, `needs_response` and an async `judge` that returns a
    Verdict. `judge` gets the candidate (with its response when `needs_response` is true), the
    parent, and the run's backend, should the filter want to ask the model.
    """

    name = "demo.adds_enough"
    needs_response = False

    def __init__(self, min_words: int = 6) -> None:
        self.min_words = min_words

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        added = len(candidate.text.split()) - len(parent.text.split())
        if added < self.min_words:
            return Verdict.dropped(self.name, "added_too_little")  # the reason is counted
        return Verdict.kept(self.name)


class AnswersAtLength:
    """Drops a candidate whose response is shorter than `min_words` words."""

    name = "demo.answer_length"
    needs_response = True  # skipped when a run does not answer (respond=False)

    def __init__(self, min_words: int = 20) -> None:
        self.min_words = min_words

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        if len((candidate.response or "").split()) < self.min_words:
            return Verdict.dropped(self.name, "short_answer")
        return Verdict.kept(self.name)


class DemoFilters:
    @evolkit.hookimpl
    def evolkit_register_filters(self, registry: FilterRegistry) -> None:
        registry.add(AddsEnough(), default=False)  # runs only when named in `filters`
        registry.add(AnswersAtLength(), default=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake/demo")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    # Test the filter on its own: no model, no run.
    kept = run_filter(
        AddsEnough(),
        "Explain tides, with two worked examples and one labelled diagram.",
        parent="Explain tides.",
    )
    dropped = run_filter(AddsEnough(), "Explain tides briefly.", parent="Explain tides.")
    assert kept.keep and not dropped.keep, (kept, dropped)
    print(f"kept: {kept}\ndropped: {dropped}")

    plugins = Plugins.load()
    plugins.register(DemoFilters(), name="demo-filters")
    # Filters run in the order given and stop at the first drop: cheap rules first.
    defaults = plugins.filters().defaults()
    filters = ["demo.adds_enough", *defaults, "demo.answer_length"]
    result = evolkit.evolve(
        evolkit_seeds(),
        rounds=args.rounds,
        model=args.model,
        plugins=plugins,
        filters=filters,
        seed=0,
    )
    stats = result.stats
    print(f"filters, in order: {', '.join(filters)}")
    print(f"{stats.kept} evolutions kept, {stats.dropped} dropped")
    for reason, count in sorted(stats.drop_reasons.items()):
        print(f"  {reason}: {count}")
    for drop in list(result.iter_drops())[:3]:
        print(f"  e.g. [{drop.filter}: {drop.reason}] {drop.text}")
    return 0


def evolkit_seeds() -> list[str]:
    return [
        "Describe a rainbow.",
        "Explain how bees make honey.",
        "Write a riddle about a clock.",
        "Name three uses of vinegar.",
        "Explain how a compass works.",
        "Suggest a name for a bakery.",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
