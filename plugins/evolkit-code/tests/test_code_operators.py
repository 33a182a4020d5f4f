"""The code operators: names, prompts, the seeded variant, and reading the rewrite."""

from __future__ import annotations

import random

import pytest
from evolkit import Instruction, Mutator, Rejected
from evolkit.testing import FakeBackend, run_mutator

from evolkit_code import CODE_MUTATORS, MISDIRECTION, has_code_snippet, prompts

TASK = Instruction(text="Write a Python function that reverses the words in a sentence.")
ops = pytest.mark.parametrize("op", CODE_MUTATORS, ids=lambda op: op.name)

NAMES = [
    "code.add_constraint",
    "code.rarer_requirement",
    "code.more_reasoning",
    "code.misdirection",
    "code.complexity",
]
VARIANTS = {
    "code.add_constraint": prompts.ADD_CONSTRAINT_VARIANTS,
    "code.rarer_requirement": prompts.RARER_REQUIREMENT_VARIANTS,
    "code.more_reasoning": prompts.MORE_REASONING_VARIANTS,
    "code.misdirection": prompts.MISDIRECTION_VARIANTS,
    "code.complexity": prompts.COMPLEXITY_VARIANTS,
}
ASKS_FOR = {
    "code.add_constraint": "adding",
    "code.rarer_requirement": "replace it with",
    "code.more_reasoning": "solving it needs",
    "code.misdirection": "erroneous code",
    "code.complexity": "complexity",
}


def user_prompt(op: Mutator, instruction: Instruction, seed: int) -> str:
    return op.build_messages(instruction, random.Random(seed))[-1]["content"]


def test_names_and_kind() -> None:
    assert [op.name for op in CODE_MUTATORS] == NAMES
    assert {op.kind for op in CODE_MUTATORS} == {"code"}
    assert all(isinstance(op, Mutator) for op in CODE_MUTATORS)


@ops
def test_prompt(op: Mutator) -> None:
    messages = op.build_messages(TASK, random.Random(0))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == prompts.SYSTEM
    user = messages[1]["content"]
    assert f"<instruction>\n{TASK.text}\n</instruction>" in user
    assert ASKS_FOR[op.name] in user
    assert "Do not solve it" in user
    assert user.rstrip().endswith("inside <rewrite></rewrite> tags.")


@ops
def test_the_seeded_rng_draws_the_variant(op: Mutator) -> None:
    variants = VARIANTS[op.name]
    seen = set()
    for seed in range(60):
        prompt = user_prompt(op, TASK, seed)
        found = [v for v in variants if v in prompt]
        assert len(found) == 1
        seen.add(found[0])
        assert prompt == user_prompt(op, TASK, seed)
    assert seen == set(variants)


def test_complexity_asks_for_time_or_space_bounds() -> None:
    text = " ".join(prompts.COMPLEXITY_VARIANTS)
    assert "time" in text and "space" in text and "O(" in text


@ops
def test_parse_reads_the_rewrite(op: Mutator) -> None:
    rewrite = (
        "Write a Python function that reverses the words in a sentence, keeping punctuation "
        "attached to its word and running in O(n) time."
    )
    if op is MISDIRECTION:
        rewrite += "\nA first attempt:\n```python\ndef rev(s):\n    return s[::-1]\n```"
    backend = FakeBackend(replies=[f"<rewrite>\n{rewrite}\n</rewrite>"])
    child = run_mutator(op, TASK, backend)
    assert isinstance(child, Instruction), child
    assert child.text == rewrite
    assert (child.parent_id, child.operator) == (TASK.id, op.name)


@ops
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("<rewrite> </rewrite>", "empty_rewrite"),
        ("I cannot help with changing this task.", "refused"),
        (f"<rewrite>{TASK.text.upper()}</rewrite>", "unchanged"),
    ],
)
def test_parse_rejects(op: Mutator, reply: str, reason: str) -> None:
    assert op.parse(reply, TASK) == Rejected(reason)


def test_misdirection_needs_new_erroneous_code() -> None:
    prose = "<rewrite>Write a Python function that reverses the words, ignoring tabs.</rewrite>"
    assert MISDIRECTION.parse(prose, TASK) == Rejected("no_code_snippet")
    unfenced = (
        "<rewrite>Write a Python function that reverses the words. This attempt is wrong:\n"
        "def rev(s):\n    words = s.split(' ')\n    return words.reverse()</rewrite>"
    )
    assert isinstance(MISDIRECTION.parse(unfenced, TASK), Instruction)
    with_code = Instruction(
        text="Fix the function below.\n```python\ndef add(a, b):\n    return a - b\n```"
    )
    same_code = f"<rewrite>{with_code.text}\nIt must also accept floats.</rewrite>"
    assert MISDIRECTION.parse(same_code, with_code) == Rejected("no_code_snippet")
    more_code = f"<rewrite>{with_code.text}\nAlso see:\n```python\nadd(1)\n```</rewrite>"
    assert isinstance(MISDIRECTION.parse(more_code, with_code), Instruction)


def test_misdirection_prompt_asks_for_a_fenced_snippet() -> None:
    prompt = user_prompt(MISDIRECTION, TASK, 0)
    assert "fenced code block" in prompt
    assert "do not say where the mistake is" in prompt


def test_has_code_snippet() -> None:
    assert has_code_snippet("Look:\n```\nx = 1\n```")
    assert has_code_snippet("x = 1\nprint(x)")
    assert not has_code_snippet("Reverse the words of a sentence.")
    assert not has_code_snippet("```\n```")


def test_default_fake_backend_evolves_a_task() -> None:
    child = run_mutator(CODE_MUTATORS[0], TASK, FakeBackend.default())
    assert isinstance(child, Instruction)
    assert child.text.startswith(TASK.text) and child.text != TASK.text
