"""Write an evolution operator, test it without a model, and use it in a run.

python examples/custom_operator.py                       # offline, with the fake model
python examples/custom_operator.py --model ollama/llama3.1 --api-base http://localhost:11434
"""

from __future__ import annotations

import argparse
import random

import evolkit
from evolkit import ChatMessage, Instruction, Rejected
from evolkit.operators import TemplateMutator, extract_rewrite
from evolkit.plugins import MutatorRegistry, Plugins
from evolkit.testing import FakeBackend, run_mutator

# 1. The short way: a prompt template. {instruction} is the parent (wrapped in <instruction>
#    tags); {variant} is one of `variants`, drawn with the run's seed. The reply format and a
#    lenient parser (refusals, unchanged rewrites and answers are rejected) come with it.
PERSONA = TemplateMutator(
    name="demo.persona",
    kind="demo",
    template=(
        "Rewrite the instruction so that it is asked by {variant}, with the details that person "
        "would add. Keep the task itself the same.\n\n{instruction}"
    ),
    variants=(
        "a nurse at the end of a night shift",
        "a student the evening before an exam",
        "a shop owner planning next week",
    ),
)


# 2. The long way: any object with `name`, `kind`, `applies_to`, `build_messages` and `parse`.
class AddUnits:
    """Asks for the answer in two units: only for instructions that mention a number."""

    name = "demo.units"
    kind = "demo"

    def applies_to(self, instruction: Instruction) -> bool:
        return any(ch.isdigit() for ch in instruction.text)

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        unit = rng.choice(["metric and imperial units", "minutes and hours", "cents and dollars"])
        return [
            ChatMessage(role="system", content="You rewrite tasks. You never solve them."),
            ChatMessage(
                role="user",
                content=(
                    f"Rewrite this task so the answer must be given in {unit}.\n"
                    f"<instruction>{instruction.text}</instruction>\n"
                    "Reply with only the new task inside <rewrite></rewrite> tags."
                ),
            ),
        ]

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        text = extract_rewrite(reply)
        if not text:
            return Rejected("empty_rewrite")
        if text.strip().lower() == parent.text.strip().lower():
            return Rejected("unchanged")
        return parent.derive(text)  # the engine fills in parent_id, operator and round


# 3. A plugin registers them. In a package, expose this object through the `evolkit`
#    entry-point group; in a script, register it on the plugins a run uses.
class DemoOperators:
    @evolkit.hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(PERSONA, default=False)  # used only when asked for by name or kind
        registry.add(AddUnits(), default=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake/demo")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    # Test one evolution with a scripted reply: no model involved.
    scripted = FakeBackend(replies=["<rewrite>Convert 5 km to miles, in miles and feet.</rewrite>"])
    child = run_mutator(AddUnits(), "Convert 5 km to miles.", scripted)
    assert isinstance(child, Instruction) and child.operator == "demo.units", child
    print(f"one evolution: {child.text!r} (parent {child.parent_id})")
    empty = run_mutator(AddUnits(), "Convert 5 km to miles.", FakeBackend(replies=[""]))
    assert isinstance(empty, Rejected), empty
    print(f"an empty reply: {empty}")

    plugins = Plugins.load()
    plugins.register(DemoOperators(), name="demo-operators")
    result = evolkit.evolve(
        [
            "Convert 26.2 miles to kilometres.",
            "Plan a 3-day trip to a city you like.",
            "Explain how a fridge keeps food cold.",
        ],
        rounds=args.rounds,
        model=args.model,
        model_params={"api_base": args.api_base} if args.api_base else None,
        plugins=plugins,
        operators={"demo": 2, "depth.deepen": 1},  # by kind or by name, with weights
        seed=1,
    )
    for op, kept in sorted(result.stats.kept_per_operator.items()):
        print(f"{op}: kept {kept} of {result.stats.attempted_per_operator[op]}")
    for inst in sorted(result, key=lambda i: (i.round, i.id)):
        if not inst.is_seed:
            print(f"- round {inst.round} [{inst.operator}] {inst.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
