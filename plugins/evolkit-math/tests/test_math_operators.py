"""The math operators: their prompts, the seeded variant, and reading the rewrite."""

from __future__ import annotations

import random

import pytest
from evolkit import Instruction, Mutator, Rejected
from evolkit.testing import FakeBackend, run_mutator

from evolkit_math import DOWNWARD, MATH_MUTATORS, UPWARD, looks_like_math, prompts

PROBLEM = Instruction(
    text="Mia buys 4 notebooks at $3 each and a pen for $2. How much does she spend?"
)
ops = pytest.mark.parametrize("op", MATH_MUTATORS, ids=lambda op: op.name)


def user_prompt(op: object, instruction: Instruction, seed: int) -> str:
    assert isinstance(op, Mutator)
    return op.build_messages(instruction, random.Random(seed))[-1]["content"]


def test_names_and_kind() -> None:
    assert [op.name for op in MATH_MUTATORS] == ["math.upward", "math.downward"]
    assert {op.kind for op in MATH_MUTATORS} == {"math"}
    assert all(isinstance(op, Mutator) for op in MATH_MUTATORS)


@ops
def test_prompt_holds_the_problem_the_rules_and_the_format(op: Mutator) -> None:
    messages = op.build_messages(PROBLEM, random.Random(0))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == prompts.SYSTEM
    user = messages[1]["content"]
    assert f"<instruction>\n{PROBLEM.text}\n</instruction>" in user
    assert "Do not solve it" in user
    assert user.rstrip().endswith("inside <rewrite></rewrite> tags.")


def test_upward_asks_for_harder_and_downward_for_easier() -> None:
    assert "harder version" in user_prompt(UPWARD, PROBLEM, 0)
    down = user_prompt(DOWNWARD, PROBLEM, 0)
    assert "easier math problem of the same kind" in down
    assert "same type of question" in down


@pytest.mark.parametrize(
    ("op", "variants"),
    [(UPWARD, prompts.UPWARD_VARIANTS), (DOWNWARD, prompts.DOWNWARD_VARIANTS)],
    ids=["upward", "downward"],
)
def test_the_seeded_rng_draws_the_direction(op: Mutator, variants: tuple[str, ...]) -> None:
    seen = set()
    for seed in range(60):
        prompt = user_prompt(op, PROBLEM, seed)
        found = [v for v in variants if v in prompt]
        assert len(found) == 1
        seen.add(found[0])
        assert prompt == user_prompt(op, PROBLEM, seed)  # same seed, same prompt
    assert seen == set(variants)


def test_upward_variants_cover_steps_quantities_constraint_and_domain() -> None:
    text = " ".join(prompts.UPWARD_VARIANTS)
    for word in ("steps", "quantities", "condition", "percentages"):
        assert word in text


@ops
def test_parse_reads_the_tagged_rewrite(op: Mutator) -> None:
    rewrite = "Mia buys 4 notebooks at $3.50 each and 2 pens at $1.25. How much does she spend?"
    backend = FakeBackend(replies=[f"Here it is:\n<rewrite>{rewrite}</rewrite>"])
    child = run_mutator(op, PROBLEM, backend, round=2)
    assert isinstance(child, Instruction)
    assert child.text == rewrite
    assert (child.parent_id, child.operator, child.round) == (PROBLEM.id, op.name, 2)
    assert child.response is None


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("<rewrite></rewrite>", "empty_rewrite"),
        ("I'm sorry, I can't change this problem.", "refused"),
        (f"<rewrite>{PROBLEM.text}</rewrite>", "unchanged"),
        (
            "<rewrite>The answer is 14 dollars, because 4 times 3 is 12 plus 2.</rewrite>",
            "answered_instead",
        ),
    ],
)
@ops
def test_parse_rejects(op: Mutator, reply: str, reason: str) -> None:
    result = op.parse(reply, PROBLEM)
    assert result == Rejected(reason)


def test_applies_only_to_problems_with_quantities() -> None:
    assert looks_like_math(PROBLEM)
    assert looks_like_math(Instruction(text="How many legs do three spiders have?"))
    assert looks_like_math(Instruction(text="Find x.", input="2x + 3 = 11"))
    poem = Instruction(text="Write a poem about autumn leaves.")
    assert not looks_like_math(poem)
    assert not UPWARD.applies_to(poem) and not DOWNWARD.applies_to(poem)
    assert UPWARD.applies_to(PROBLEM) and DOWNWARD.applies_to(PROBLEM)


def test_default_fake_backend_evolves_a_problem() -> None:
    child = run_mutator(UPWARD, PROBLEM, FakeBackend.default())
    assert isinstance(child, Instruction)
    assert child.text.startswith(PROBLEM.text)
    assert child.text != PROBLEM.text
