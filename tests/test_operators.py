"""Built-in mutation operators: prompts, reply parsing, the data predicate, registration."""

from __future__ import annotations

import random

import attrs
import pytest

from evolkit import Instruction, Mutator, Rejected
from evolkit._markers import INPUT_TAG, INSTRUCTION_TAG, wrap
from evolkit._plugins import Plugins
from evolkit.operators import (
    ADD_CONSTRAINTS,
    BREADTH_MUTATE,
    BUILTIN_MUTATORS,
    COMPLICATE_INPUT,
    CONCRETIZE,
    DEEPEN,
    INCREASE_REASONING,
    TemplateMutator,
    asks_for_something,
    carries_data,
    extract_rewrite,
    looks_like_answer,
)
from evolkit.testing import FakeBackend, run_mutator

NAMES = [
    "depth.add_constraints",
    "depth.deepen",
    "depth.concretize",
    "depth.increase_reasoning",
    "depth.complicate_input",
    "breadth.mutate",
]

PARENT = Instruction(text="List three uses of copper in household wiring.")
WITH_INPUT = Instruction(
    text="Find the median of the readings below.", input="12.5, 9.1, 14.0, 11.3, 10.8"
)

ops = pytest.mark.parametrize("op", BUILTIN_MUTATORS, ids=lambda op: op.name)


def user_prompt(op: TemplateMutator, instruction: Instruction, seed: int = 0) -> str:
    messages = op.build_messages(instruction, random.Random(seed))
    return messages[-1]["content"]


# --- the set of operators -------------------------------------------------------------------


def test_six_builtin_operators_with_names_and_kinds() -> None:
    assert [op.name for op in BUILTIN_MUTATORS] == NAMES
    assert [op.kind for op in BUILTIN_MUTATORS] == ["depth"] * 5 + ["breadth"]
    assert (BUILTIN_MUTATORS[:5]) == (
        ADD_CONSTRAINTS,
        DEEPEN,
        CONCRETIZE,
        INCREASE_REASONING,
        COMPLICATE_INPUT,
    )
    assert BREADTH_MUTATE.kind == "breadth"


@ops
def test_operators_implement_the_protocol(op: TemplateMutator) -> None:
    assert isinstance(op, Mutator)


def test_plugin_registers_the_six_operators_as_defaults() -> None:
    registry = Plugins.load(entry_points=False).mutators()
    assert registry.names() == NAMES
    assert registry.defaults() == NAMES
    assert registry.kinds() == {"depth": NAMES[:5], "breadth": NAMES[5:]}
    assert registry.get("depth.deepen") is DEEPEN
    assert registry.entry("breadth.mutate").plugin == "evolkit.operators"


def test_disabling_the_builtin_plugin_removes_the_operators() -> None:
    plugins = Plugins.load(entry_points=False, disabled=frozenset({"evolkit.operators"}))
    assert plugins.mutators().names() == []


# --- build_messages -------------------------------------------------------------------------


@ops
def test_messages_are_system_then_user_with_the_parent_wrapped(op: TemplateMutator) -> None:
    messages = op.build_messages(PARENT, random.Random(3))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].strip()
    user = messages[1]["content"]
    assert wrap(INSTRUCTION_TAG, PARENT.text) in user
    assert f"<{INPUT_TAG}>" not in user  # no input, no input block
    assert "<rewrite>" in user
    # the output format comes last
    assert user.rstrip().splitlines()[-1].startswith("Reply with")


@ops
def test_messages_carry_the_input(op: TemplateMutator) -> None:
    user = user_prompt(op, WITH_INPUT)
    assert wrap(INSTRUCTION_TAG, WITH_INPUT.text) in user
    assert wrap(INPUT_TAG, WITH_INPUT.input) in user


def test_only_complicate_input_asks_for_a_new_input() -> None:
    for op in BUILTIN_MUTATORS:
        asks_input = "<rewrite_input>" in user_prompt(op, WITH_INPUT)
        assert asks_input == (op is COMPLICATE_INPUT), op.name
    # with no separate input, the data lives in the instruction and only <rewrite> is asked for
    inline = Instruction(text="Sort these ages: 31, 4, 17, 58, 22.")
    assert "<rewrite_input>" not in user_prompt(COMPLICATE_INPUT, inline)


@ops
def test_messages_are_reproducible_per_seed(op: TemplateMutator) -> None:
    for seed in range(5):
        first = op.build_messages(PARENT, random.Random(seed))
        again = op.build_messages(PARENT, random.Random(seed))
        assert first == again


@ops
def test_seeds_draw_different_variants(op: TemplateMutator) -> None:
    prompts = {user_prompt(op, PARENT, seed) for seed in range(40)}
    assert len(prompts) == len(op.variants) > 1
    for variant in op.variants:
        assert any(variant in p for p in prompts)


@ops
def test_prompts_do_not_name_the_template_words(op: TemplateMutator) -> None:
    text = (op.system + user_prompt(op, WITH_INPUT)).lower()
    for phrase in ("given prompt", "rewritten prompt", "#rewritten", "#given"):
        assert phrase not in text


def test_instruction_with_braces_and_placeholders_is_rendered_verbatim() -> None:
    odd = Instruction(text='Parse {"a": 1} and print {variant} literally.')
    user = user_prompt(ADD_CONSTRAINTS, odd)
    assert wrap(INSTRUCTION_TAG, odd.text) in user


# --- parse: accepted replies ----------------------------------------------------------------

REWRITE = "List three uses of copper in household wiring and explain why aluminium is rarer."


@pytest.mark.parametrize(
    "reply",
    [
        f"<rewrite>{REWRITE}</rewrite>",
        f"<rewrite>\n  {REWRITE}\n</rewrite>",
        f"Sure! Here you go.\n<rewrite>{REWRITE}</rewrite>\nHope this helps.",
        f"<REWRITE>{REWRITE}</REWRITE>",
        f"<rewrite>{REWRITE}",  # never closed
        f"{REWRITE}</rewrite>",  # never opened
        REWRITE,  # no tags at all
        f"Rewritten instruction: {REWRITE}",
        f"Rewritten Instruction:\n{REWRITE}",
        f"**New Instruction:** {REWRITE}",
        f"#Rewritten Prompt#:\n{REWRITE}",
        f"Sure! Here is the more complex version:\n\n{REWRITE}",
        f'"{REWRITE}"',
        f"“{REWRITE}”",
        f'<rewrite>"{REWRITE}"</rewrite>',
        f"<rewrite>New instruction: {REWRITE}</rewrite>",
        f"<rewrite><instruction>{REWRITE}</instruction></rewrite>",
        f"<rewrite>first try</rewrite> better: <rewrite>{REWRITE}</rewrite>",
    ],
)
def test_parse_recovers_tagged_untagged_and_sloppy_replies(reply: str) -> None:
    child = ADD_CONSTRAINTS.parse(reply, PARENT)
    assert isinstance(child, Instruction), child
    assert child.text == REWRITE
    assert child.input == PARENT.input
    assert child.response is None
    assert child.id != PARENT.id


def test_parse_keeps_inner_quotes_and_a_leading_instruction_line() -> None:
    quoted = 'Translate "good morning" and "good night" into Welsh, with pronunciation.'
    child = ADD_CONSTRAINTS.parse(f"<rewrite>{quoted}</rewrite>", PARENT)
    assert isinstance(child, Instruction) and child.text == quoted
    two_lines = "Answer the following question:\nWhy do copper wires heat up under heavy load?"
    child = DEEPEN.parse(two_lines, PARENT)
    assert isinstance(child, Instruction) and child.text == two_lines


def test_parse_keeps_the_parent_input_for_depth_operators() -> None:
    reply = "<rewrite>Find the median and the mean of the readings below.</rewrite>"
    child = ADD_CONSTRAINTS.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction)
    assert child.input == WITH_INPUT.input


def test_complicate_input_reads_the_new_input() -> None:
    reply = (
        "<rewrite>Find the median of the readings below, ignoring the missing one.</rewrite>\n"
        "<rewrite_input>12.5, 9.1, n/a, 14.0, 11.3, 10.8, 13.2</rewrite_input>"
    )
    child = COMPLICATE_INPUT.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction)
    assert child.text == "Find the median of the readings below, ignoring the missing one."
    assert child.input == "12.5, 9.1, n/a, 14.0, 11.3, 10.8, 13.2"


def test_complicate_input_without_a_new_input_keeps_the_old_one() -> None:
    reply = "<rewrite>Find the median and the range of the readings below.</rewrite>"
    child = COMPLICATE_INPUT.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction) and child.input == WITH_INPUT.input


def test_complicate_input_untagged_text_stops_at_the_input_tag() -> None:
    reply = "Find the median of these readings.\n<rewrite_input>1, 2, 3, 4, 5, 6</rewrite_input>"
    child = COMPLICATE_INPUT.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction)
    assert child.text == "Find the median of these readings."
    assert child.input == "1, 2, 3, 4, 5, 6"


def test_complicate_input_with_only_a_new_input_is_a_change() -> None:
    reply = f"<rewrite>{WITH_INPUT.text}</rewrite><rewrite_input>12.5, 9.1, 14.0</rewrite_input>"
    child = COMPLICATE_INPUT.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction)
    assert child.text == WITH_INPUT.text and child.input == "12.5, 9.1, 14.0"


def test_breadth_drops_the_parent_input() -> None:
    reply = "<rewrite>Find the interquartile range of 4, 9, 15, 22, 30 and 41.</rewrite>"
    child = BREADTH_MUTATE.parse(reply, WITH_INPUT)
    assert isinstance(child, Instruction) and child.input == ""


# --- parse: rejected replies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty_rewrite"),
        ("   \n ", "empty_rewrite"),
        ("<rewrite></rewrite>", "empty_rewrite"),
        ("<rewrite>  \n </rewrite>", "empty_rewrite"),
        ('<rewrite>""</rewrite>', "empty_rewrite"),
        ("Rewritten instruction:", "empty_rewrite"),
        (f"<rewrite>{PARENT.text}</rewrite>", "unchanged"),
        (f"<rewrite>  {PARENT.text.upper()}  </rewrite>", "unchanged"),
        (f"<rewrite>{PARENT.text.rstrip('.')}</rewrite>", "unchanged"),
        (PARENT.text.replace(" ", "\n  "), "unchanged"),
        ("I'm sorry, but I can't rewrite that instruction.", "refused"),
        ("<rewrite>As an AI, I cannot do this.</rewrite>", "refused"),
        (
            "<rewrite>Sure! Copper is used for its low resistance, its ductility and "
            "its resistance to corrosion.</rewrite>",
            "answered_instead",
        ),
        (
            "Copper is used in household wiring because it conducts electricity very well. "
            "It is also ductile, so it can be drawn into thin wires without breaking, and it "
            "resists corrosion, which keeps connections reliable for decades. Finally, it "
            "is easy to solder and to join with standard connectors in junction boxes.",
            "answered_instead",
        ),
    ],
)
def test_parse_rejects(reply: str, reason: str) -> None:
    result = DEEPEN.parse(reply, PARENT)
    assert result == Rejected(reason)


def test_too_long_is_relative_to_the_parent_and_configurable() -> None:
    base = "List three uses of copper in household wiring, and for each one explain"
    words = ["why", "it", "matters"] * 40  # a request, so not an answer: just too long
    long_reply = f"<rewrite>{base} {' '.join(words)}.</rewrite>"
    assert ADD_CONSTRAINTS.parse(long_reply, PARENT) == Rejected("too_long")
    roomy = attrs.evolve(ADD_CONSTRAINTS, max_added_words=500)
    assert isinstance(roomy.parse(long_reply, PARENT), Instruction)
    # the limit is parent words + max_added_words
    limit = len(PARENT.text.split()) + ADD_CONSTRAINTS.max_added_words
    extra = limit - len(base.split())
    at_limit = f"{base} " + " ".join(["well"] * extra)
    over_limit = at_limit + " indeed"
    assert isinstance(ADD_CONSTRAINTS.parse(at_limit, PARENT), Instruction)
    assert ADD_CONSTRAINTS.parse(over_limit, PARENT) == Rejected("too_long")


def test_too_long_input_for_complicate_input() -> None:
    huge = ", ".join(str(i) for i in range(600))
    reply = f"<rewrite>Find the median.</rewrite><rewrite_input>{huge}</rewrite_input>"
    assert COMPLICATE_INPUT.parse(reply, WITH_INPUT) == Rejected("too_long")


def test_answer_check_can_be_switched_off() -> None:
    answer = "<rewrite>Sure! The answer is that copper conducts well.</rewrite>"
    assert DEEPEN.parse(answer, PARENT) == Rejected("answered_instead")
    lenient = attrs.evolve(DEEPEN, reject_answers=False)
    assert isinstance(lenient.parse(answer, PARENT), Instruction)


# --- the heuristics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "What is the boiling point of water at 2000 metres?",
        "Explain why the sky is blue.",
        "Given a list of integers, return the two that sum to zero.",
        "A farmer has 12 cows and buys 5 more. How many cows does he have now?",
        "As a travel agent, plan a three-day trip to Lisbon.",
        "The table below lists sales by month. Compute the average.",
        "1. Describe the water cycle in two sentences.",
        "Please summarise the article in one paragraph.",
        "Photosynthesis turns light into sugar; make sure you mention chlorophyll.",
    ],
)
def test_asks_for_something(text: str) -> None:
    assert asks_for_something(text)


@pytest.mark.parametrize(
    "text",
    [
        "The boiling point of water drops at altitude.",
        "Copper is a good conductor. It is cheap.",
        "Sure! Here it is.",
        "",
    ],
)
def test_does_not_ask_for_anything(text: str) -> None:
    assert not asks_for_something(text)


def test_looks_like_answer() -> None:
    parent = "Why is copper used in wiring?"
    assert looks_like_answer("The answer is its conductivity.", parent)
    assert looks_like_answer("Certainly. Copper conducts well.", parent)
    long_statement = " ".join(["Copper conducts electricity well and is cheap."] * 8)
    assert looks_like_answer(long_statement, parent)
    assert not looks_like_answer("Copper wiring in old houses, and its risks.", parent)
    assert not looks_like_answer("Why is copper, not silver, used in wiring at home?", parent)
    long_request = long_statement + " Explain why this is so."
    assert not looks_like_answer(long_request, parent)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<rewrite>x y</rewrite>", "x y"),
        ("Revised task: x y", "x y"),
        ("Here's the new prompt:\nx y", "x y"),
        ("Translate this: x y", "Translate this: x y"),
        ("```\nx y\n```", "x y"),
        ("'x y'", "x y"),
        ("'x' and 'y'", "'x' and 'y'"),
    ],
)
def test_extract_rewrite(reply: str, expected: str) -> None:
    assert extract_rewrite(reply) == expected


# --- applies_to: which instructions carry data ------------------------------------------------

CARRY_DATA = [
    Instruction(text="Summarise the paragraph.", input="Rivers carry sediment to the sea."),
    Instruction(text="Fix the bug:\n```python\nprint(sum(range(10))\n```"),
    Instruction(text="Explain what `x = y[1:]` does."),
    Instruction(text="def area(r):\n    return 3.14 * r * r\nWhat does this compute?"),
    Instruction(text="Which city is larger?\n| city | people |\n|---|---|\n| A | 10 |"),
    Instruction(text='Add a field "age" to {"name": "Ana", "city": "Porto"}.'),
    Instruction(text="Reverse the array [4, 8, 15, 16]."),
    Instruction(text="Solve for x: 3x + 7 = 22."),
    Instruction(text="What is 17 * 23?"),
    Instruction(text="Simplify \\frac{6}{8}."),
    Instruction(text="If x > 4 and y < 2, which is larger?"),
    Instruction(
        text="A shop sells pens at 3 dollars, books at 12 and bags at 25. Total for one of each?"
    ),
    Instruction(text="SELECT name FROM users WHERE age > 30; explain the query."),
]

NO_DATA = [
    Instruction(text="Explain photosynthesis."),
    Instruction(text="Write a 500-word essay on well-known inventors."),
    Instruction(text="Give three tips for a first job interview."),
    Instruction(text="Describe the history of the printing press in 2 paragraphs."),
    Instruction(text="For a school project, list the planets and their moons."),
    Instruction(text="Import policy: what does a trade tariff do?"),
    Instruction(text="Compare cats and dogs as pets - which suits a small flat?"),
    Instruction(text="Translate 'good morning' into Spanish.", input="   "),
]


@pytest.mark.parametrize("instruction", CARRY_DATA, ids=lambda i: i.text[:30])
def test_complicate_input_applies_to_instructions_with_data(instruction: Instruction) -> None:
    assert carries_data(instruction)
    assert COMPLICATE_INPUT.applies_to(instruction)


@pytest.mark.parametrize("instruction", NO_DATA, ids=lambda i: i.text[:30])
def test_complicate_input_skips_plain_prose(instruction: Instruction) -> None:
    assert not carries_data(instruction)
    assert not COMPLICATE_INPUT.applies_to(instruction)


@pytest.mark.parametrize(
    "op", [op for op in BUILTIN_MUTATORS if op is not COMPLICATE_INPUT], ids=lambda op: op.name
)
def test_other_operators_apply_to_everything(op: TemplateMutator) -> None:
    assert all(op.applies_to(i) for i in CARRY_DATA + NO_DATA)


# --- through the fake model, with lineage -----------------------------------------------------


@ops
def test_run_mutator_with_the_default_fake_gives_lineage(op: TemplateMutator) -> None:
    parent = WITH_INPUT if op is COMPLICATE_INPUT else PARENT
    child = run_mutator(op, parent, FakeBackend.default(), seed=7, round=2)
    assert isinstance(child, Instruction), child
    assert child.text.startswith(parent.text) and child.text != parent.text
    assert child.parent_id == parent.id
    assert child.operator == op.name
    assert child.round == 2


def test_run_mutator_on_a_string_and_reproducibility() -> None:
    a = run_mutator(DEEPEN, "Explain how tides work.", seed=1)
    b = run_mutator(DEEPEN, "Explain how tides work.", seed=1)
    assert isinstance(a, Instruction) and a == b


def test_run_mutator_sends_the_built_messages() -> None:
    backend = FakeBackend(replies=["<rewrite>Explain how tides work on Mars.</rewrite>"])
    child = run_mutator(CONCRETIZE, "Explain how tides work.", backend)
    assert isinstance(child, Instruction) and child.text == "Explain how tides work on Mars."
    ((messages, _params),) = backend.calls
    assert "Explain how tides work." in messages[-1]["content"]


def test_run_mutator_reports_rejections() -> None:
    backend = FakeBackend(replies=["<rewrite>Explain how tides work.</rewrite>"])
    assert run_mutator(DEEPEN, "Explain how tides work.", backend) == Rejected("unchanged")


# --- TemplateMutator for plugins --------------------------------------------------------------


def test_template_mutator_for_a_plugin() -> None:
    op = TemplateMutator(
        name="test.units",
        kind="test",
        template="Add a unit conversion ({variant}) to:\n{instruction}\nKeep {braces} as is.",
        variants=["km to miles", "kg to pounds"],
        predicate=carries_data,
    )
    assert isinstance(op, Mutator)
    assert op.variants == ("km to miles", "kg to pounds")
    user = user_prompt(op, WITH_INPUT)
    assert "{braces}" in user and wrap(INPUT_TAG, WITH_INPUT.input) in user
    assert user.endswith(op.output_format)
    assert op.applies_to(WITH_INPUT) and not op.applies_to(PARENT)
    assert "test.units" in repr(op) and "Keep" not in repr(op)


def test_template_mutator_without_variants_uses_no_randomness() -> None:
    op = TemplateMutator(name="test.plain", kind="test", template="Harder:\n{instruction}")
    rng = random.Random(5)
    state = rng.getstate()
    op.build_messages(PARENT, rng)
    assert rng.getstate() == state


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"template": "no placeholder"}, "instruction"),
        ({"template": "{instruction} {variant}"}, "variant"),
        ({"template": "{instruction}", "variants": ["ok", " "]}, "non-blank"),
        ({"template": "{instruction}", "input_mode": "replace"}, "input_mode"),
        ({"template": "{instruction}", "max_added_words": 0}, "max_added_words"),
    ],
)
def test_template_mutator_validates(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TemplateMutator(name="test.bad", kind="test", **kwargs)  # type: ignore[arg-type]
