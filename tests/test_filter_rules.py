"""The eliminator's cheap rules: what each must drop and must keep, and the near-copy properties."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolkit import ChatMessage, Instruction, Verdict
from evolkit.filters import (
    GrowthFilter,
    InstructionFormFilter,
    NearCopyFilter,
    NearDuplicateFilter,
    OneTaskFilter,
    RefusalFilter,
    TemplateLeakFilter,
    builtin_filters,
)
from evolkit.operators import ADD_CONSTRAINTS, BREADTH_MUTATE, TemplateMutator
from evolkit.testing import FakeBackend, run_filter


def child(text: str, parent: Instruction, operator: str = "depth.add_constraints") -> Instruction:
    return Instruction(text=text, parent_id=parent.id, operator=operator, round=1)


# --- template_leak: the operator's own wording ------------------------------------------------

FRUITS = Instruction(text="List three fruits that are red.")
PROMPT = ADD_CONSTRAINTS.build_messages(FRUITS, random.Random(0))


@pytest.mark.parametrize(
    "text",
    [
        "Make the instruction below a little harder: list three red fruits.",
        "List three fruits that are red. Add only 10 to 20 words.",
        "List three red fruits. Write it as a standalone instruction.",
        "List three fruits that are red. Reply with only the new instruction.",
    ],
)
def test_template_leak_drops_the_operators_wording(text: str) -> None:
    verdict = run_filter(TemplateLeakFilter(), child(text, FRUITS), FRUITS, prompt=PROMPT)
    assert not verdict.keep and verdict.reason == "template_leak"
    assert verdict.metadata["copied"]


def test_template_leak_drops_a_copied_variant_phrase() -> None:
    prompt = [ChatMessage(role="user", content="\n".join(ADD_CONSTRAINTS.prompt_texts))]
    text = "List three fruits that are red, but exclude the most obvious answer."
    verdict = run_filter(TemplateLeakFilter(), child(text, FRUITS), FRUITS, prompt=prompt)
    assert verdict.metadata == {"copied": ["the most obvious answer"]}


@pytest.mark.parametrize(
    "text",
    [
        "List three fruits that are red and grow in Spain.",
        "List three fruits that are red; the answer must include one tropical fruit.",
        "List three red fruits and do not answer with apples.",
    ],
)
def test_template_leak_keeps_ordinary_rewrites(text: str) -> None:
    verdict = run_filter(TemplateLeakFilter(), child(text, FRUITS), FRUITS, prompt=PROMPT)
    assert verdict == Verdict.kept("template_leak")


def test_template_leak_keeps_wording_the_parent_had() -> None:
    parent = Instruction(text="Make the instruction below a little harder for a child to read.")
    text = "Make the instruction below a little harder for a child of six to read aloud."
    prompt = ADD_CONSTRAINTS.build_messages(parent, random.Random(0))
    assert run_filter(TemplateLeakFilter(), child(text, parent), parent, prompt=prompt).keep


BAKERY = Instruction(
    text="A bakery sells muffins for $3 each. Maya buys 4 muffins. How much does she spend?"
)


@pytest.mark.parametrize(
    "text",
    [
        f"{BAKERY.text} (Note: Maya buys 4 muffins, not 3 as originally stated.)",
        f"{BAKERY.text} Answer the original question first, then give the change from $20.",
        "Revised problem: a bakery sells muffins for $3 each; Maya buys 4. What does she pay?",
    ],
)
def test_template_leak_drops_a_reference_to_the_replaced_version(text: str) -> None:
    verdict = run_filter(TemplateLeakFilter(), child(text, BAKERY), BAKERY)
    assert not verdict.keep and verdict.reason == "template_leak"


@pytest.mark.parametrize(
    "text",
    [
        f"{BAKERY.text} The price was originally $4 but is now 25% lower; find the saving too.",
        "Compare the original 1968 recipe for muffins with a modern one, in three sentences.",
        f"{BAKERY.text} Give the answer in cents and explain each step.",
    ],
)
def test_template_leak_keeps_other_uses_of_original(text: str) -> None:
    assert run_filter(TemplateLeakFilter(), child(text, BAKERY), BAKERY).keep


def test_template_leak_keeps_a_reference_the_parent_had() -> None:
    parent = Instruction(text="Restate the original question in your own words: why is it hot?")
    text = "Restate the original question in your own words, then answer it: why is it hot?"
    assert run_filter(TemplateLeakFilter(), child(text, parent), parent).keep


def test_template_leak_reads_a_third_party_operators_prompt() -> None:
    own = TemplateMutator(
        name="acme.harder",
        kind="acme",
        template="Turn this into a puzzle worthy of a grandmaster.\n\n{instruction}",
    )
    prompt = own.build_messages(FRUITS, random.Random(0))
    leaked = child("A puzzle worthy of a grandmaster: list three red fruits.", FRUITS)
    assert not run_filter(TemplateLeakFilter(), leaked, FRUITS, prompt=prompt).keep
    # without the prompt only the fixed phrase list and tags are known
    assert run_filter(TemplateLeakFilter(), leaked, FRUITS).keep


def test_template_leak_keeps_xml_data_with_tag_like_words() -> None:
    parent = Instruction(
        text="Count the <item> elements.", input="<list><item>a</item><item>b</item></list>"
    )
    cand = Instruction(
        text="Count the <item> elements and report the first and second item.",
        input="<list><item>a</item><item>b</item><item>c</item></list>",
        parent_id=parent.id,
        operator="depth.complicate_input",
        round=1,
    )
    prompt = ADD_CONSTRAINTS.build_messages(parent, random.Random(1))
    assert run_filter(TemplateLeakFilter(), cand, parent, prompt=prompt).keep


def test_prompt_texts_cover_every_variant() -> None:
    texts = BREADTH_MUTATE.prompt_texts
    assert all(v in texts for v in BREADTH_MUTATE.variants)
    assert not any("{instruction}" in t or "{variant}" in t for t in texts)


# --- near_copy ---------------------------------------------------------------------------------

SORT = Instruction(text="Write a Python function that sorts a list from largest to smallest.")


@pytest.mark.parametrize(
    "text",
    [
        "Write a Python function that sorts a list from largest to smallest.",
        "write a python function that sorts a list, from largest to smallest!",
        "Write a Python function which sorts a list from largest to smallest.",
        "Write a Python function that sorts a list from the largest to the smallest.",
        "Write a Python function that sorts a list from largest to smallest value.",
    ],
)
def test_near_copy_drops_a_word_or_two_changed(text: str) -> None:
    verdict = run_filter(NearCopyFilter(), child(text, SORT), SORT)
    assert verdict == Verdict.dropped("near_copy", "no_information_gain")


@pytest.mark.parametrize(
    "text",
    [
        "Write a Python function that sorts a list from largest to smallest without sorted().",
        "Write a Python function that sorts a list of tuples by their second item, largest first.",
        "Write a Rust function that reverses a string.",
        "Sort it.",
    ],
)
def test_near_copy_keeps_a_rewrite_that_adds_something(text: str) -> None:
    assert run_filter(NearCopyFilter(), child(text, SORT), SORT).keep


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_words = st.lists(_word, min_size=1, max_size=30)


_separators = st.lists(st.sampled_from([" ", "  ", "\n", "\t", " \n "]), min_size=1, max_size=4)
_casing = st.lists(st.booleans(), min_size=1, max_size=4)


def _respace(words: list[str], seps: list[str], upper: list[bool]) -> str:
    out = []
    for i, w in enumerate(words):
        out.append(w.upper() if upper[i % len(upper)] else w)
        out.append(seps[i % len(seps)])
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(parent=_words, edit=_words, seps=_separators, upper=_casing)
def test_near_copy_ignores_whitespace_and_case(
    parent: list[str], edit: list[str], seps: list[str], upper: list[bool]
) -> None:
    flt = NearCopyFilter()
    p, c = Instruction(text=" ".join(parent)), Instruction(text=" ".join(parent + edit[:2]))
    p2, c2 = (
        Instruction(text=_respace(parent, seps, upper)),
        Instruction(text=_respace(parent + edit[:2], list(reversed(seps)), upper[::-1])),
    )
    assert flt.is_near_copy(c, p) == flt.is_near_copy(c2, p2)
    assert flt.is_near_copy(c, p) == flt.is_near_copy(
        Instruction(text=c.text.upper()), Instruction(text=p.text.lower())
    )


@settings(max_examples=150, deadline=None)
@given(
    parent=_words,
    sentence=st.lists(_word, min_size=3, max_size=15),
    at=st.integers(min_value=0),
)
def test_near_copy_never_drops_a_candidate_that_adds_a_sentence(
    parent: list[str], sentence: list[str], at: int
) -> None:
    sentences = " ".join(parent).split(" ")
    cut = at % (len(sentences) + 1)
    new = " ".join(sentences[:cut]) + ". " + " ".join(sentence).capitalize() + ". "
    new += " ".join(sentences[cut:])
    assert not NearCopyFilter().is_near_copy(
        Instruction(text=new), Instruction(text=" ".join(parent))
    )


# --- near_copy: a breadth rewrite must be a new instruction ------------------------------------

TAP = Instruction(text="Draft a polite email asking a landlord to repair a leaking kitchen tap.")


@pytest.mark.parametrize(
    ("text", "shared"),
    [
        ("Draft a polite email asking a landlord to repair a broken kitchen faucet.", 0.85),
        ("Write a polite email asking a landlord to repair a broken toilet.", 0.72),
        ("Write a polite email to a landlord asking them to repair a leaking kitchen tap.", 0.86),
    ],
)
def test_a_breadth_rewrite_too_close_to_its_parent_is_not_new(text: str, shared: float) -> None:
    verdict = run_filter(NearCopyFilter(), child(text, TAP, "breadth.mutate"), TAP)
    assert verdict == Verdict.dropped("near_copy", "not_new", {"similarity": shared})


@pytest.mark.parametrize(
    ("text", "parent"),
    [
        # the parent's frame, a new request: 0.54, under the threshold
        ("Draft a polite email asking your building's board to allow a rooftop beehive.", TAP),
        # a short parent: a new topic shares four of its five words, fewer than six
        ("Write a haiku about a night market.", Instruction(text="Write a haiku about autumn.")),
        ("Explain how a phage therapy targets resistant bacteria.", TAP),
    ],
)
def test_a_new_breadth_rewrite_is_kept(text: str, parent: Instruction) -> None:
    assert run_filter(NearCopyFilter(), child(text, parent, "breadth.mutate"), parent).keep


def test_the_new_task_rule_is_for_breadth_operators_and_is_configurable() -> None:
    faucet = "Draft a polite email asking a landlord to repair a broken kitchen faucet."
    as_depth = child(faucet, TAP, "depth.concretize")
    assert run_filter(NearCopyFilter(), as_depth, TAP).keep  # growth judges depth rewrites
    as_breadth = child(faucet, TAP, "breadth.mutate")
    assert run_filter(NearCopyFilter(new_task={}), as_breadth, TAP).keep
    assert run_filter(NearCopyFilter(new_task={"breadth.": 0.9}), as_breadth, TAP).keep
    # the parent kept whole with a sentence added brings too many new words: the judge decides
    longer = child(TAP.text + " Mention the date the leak started.", TAP, "breadth.mutate")
    assert run_filter(NearCopyFilter(), longer, TAP).keep
    assert not run_filter(NearCopyFilter(max_swapped=6), longer, TAP).keep
    mine = child(faucet, TAP, "mine.wide")
    assert not run_filter(NearCopyFilter(new_task={"mine.": 0.6}), mine, TAP).keep
    with pytest.raises(ValueError, match="between 0 and 1"):
        NearCopyFilter(new_task={"breadth.": 1.5})


@settings(max_examples=150, deadline=None)
@given(parent=_words, edit=_words, seps=_separators, upper=_casing)
def test_the_new_task_rule_ignores_whitespace_and_case(
    parent: list[str], edit: list[str], seps: list[str], upper: list[bool]
) -> None:
    flt = NearCopyFilter()
    op = "breadth.mutate"
    p = Instruction(text=" ".join(parent))
    c = Instruction(text=" ".join(parent[1:] + edit[:3]), operator=op)
    p2 = Instruction(text=_respace(parent, seps, upper))
    c2 = Instruction(text=_respace(parent[1:] + edit[:3], seps[::-1], upper[::-1]), operator=op)
    assert flt.too_close(c, p) == flt.too_close(c2, p2)


# --- growth -----------------------------------------------------------------------------------

VACCINES = Instruction(text="Describe how vaccines train the immune system.")


def test_growth_measures_and_keeps_any_one_task_growth_by_default() -> None:
    flt = GrowthFilter()
    for extra in ("in children", " ".join(["and"] * 45), "Explain memory B cells and boosters."):
        verdict = run_filter(flt, child(f"{VACCINES.text} {extra}", VACCINES), VACCINES)
        assert verdict.keep and "added_words" in verdict.metadata["growth"]
    small = child("Describe how vaccines train the human immune system.", VACCINES)
    assert run_filter(flt, small, VACCINES).metadata == {
        "growth": {"added_words": 1, "target": "below"}
    }


def test_growth_drops_only_a_runaway() -> None:
    flt = GrowthFilter()
    runaway = child(VACCINES.text + " " + " ".join(["word"] * 61), VACCINES)
    verdict = run_filter(flt, runaway, VACCINES)
    assert verdict.reason == "runaway_growth"
    assert verdict.metadata == {"added_words": 61, "parent_words": 7}
    sixty = child(VACCINES.text + " " + " ".join(["word"] * 60), VACCINES)
    assert run_filter(flt, sixty, VACCINES).keep
    # 61 more words on a long parent is not four times its length.
    long_parent = Instruction(text=" ".join(["base"] * 30))
    grown = child(long_parent.text + " " + " ".join(["word"] * 61), long_parent)
    assert run_filter(flt, grown, long_parent).keep


def test_growth_band_is_the_strict_band_by_name() -> None:
    flt = GrowthFilter.band_filter()
    assert flt.name == "growth.band"
    nine = child(VACCINES.text + " Explain memory B cells and why boosters are needed.", VACCINES)
    ten = child(
        VACCINES.text + " Explain memory B cells and why boosters are often needed.", VACCINES
    )
    assert run_filter(flt, nine, VACCINES).reason == "growth_too_small"
    assert run_filter(flt, ten, VACCINES).keep
    twenty_one = child(VACCINES.text + " " + " ".join(["and"] * 21), VACCINES)
    assert run_filter(flt, twenty_one, VACCINES).reason == "growth_too_large"
    same = attrs_op(
        child(VACCINES.text + " Use the data below.", VACCINES), "depth.complicate_input"
    )
    assert run_filter(flt, same, VACCINES).keep
    assert flt.band("depth.concretize") == (10, 20)
    assert GrowthFilter().band("depth.concretize") is None


def test_growth_records_where_a_kept_row_falls() -> None:
    flt = GrowthFilter()
    within = child(
        VACCINES.text + " Explain memory B cells and why boosters are needed for some vaccines.",
        VACCINES,
    )
    verdict = run_filter(flt, within, VACCINES)
    assert verdict.keep and verdict.metadata == {"growth": {"added_words": 12, "target": "within"}}
    below = child(VACCINES.text + " Mention memory cells and boosters.", VACCINES)
    assert run_filter(flt, below, VACCINES).metadata["growth"]["target"] == "below"


def test_growth_applies_to_depth_operators_only_and_is_configurable() -> None:
    same = child("Describe how the measles vaccine trains the immune system.", VACCINES)
    assert run_filter(GrowthFilter(), attrs_op(same, "breadth.mutate"), VACCINES).reason == (
        "not_depth"
    )
    assert run_filter(GrowthFilter(), attrs_op(same, "depth.concretize"), VACCINES).keep
    strict = GrowthFilter(bands={"depth.": (5, 30)})
    assert not run_filter(strict, attrs_op(same, "depth.concretize"), VACCINES).keep
    with pytest.raises(ValueError, match="more than"):
        GrowthFilter(bands={"depth.": (20, 10)})


ONE_PLUS_ONE = Instruction(text="1+1=?")
FIGURE_1 = [
    # WizardLM (arXiv 2304.12244), Figure 1: the evolutions of "1+1=?".
    ("depth.add_constraints", "How to prove 1 + 1 = 2 in the Goldbach Conjecture?"),
    ("depth.deepen", "In what situation does 1+1 not equal to 2?"),
    ("depth.concretize", "What is the value of x, if x^3 + 2x + 3 = 7?"),
    (
        "depth.increase_reasoning",
        "If you have one apple and someone gives you another banana, how many fruits do you have?",
    ),
    ("breadth.mutate", "What is the speed of light in a vacuum?"),
]


@pytest.mark.parametrize(("operator", "text"), FIGURE_1)
def test_the_papers_figure_1_evolutions_are_kept_by_every_default_rule(
    operator: str, text: str
) -> None:
    candidate = attrs_op(child(text, ONE_PLUS_ONE), operator)
    candidate = attrs.evolve(candidate, response="A worked answer with its reasoning and result.")
    judge = FakeBackend(replies=["Not Equal"] * 2)
    for flt in builtin_filters():
        assert run_filter(flt, candidate, ONE_PLUS_ONE, judge).keep, flt.name


CAT = Instruction(text="Write a limerick.")


@pytest.mark.parametrize(
    ("text", "parent"),
    [
        (
            "Write a limerick about a cat.\nThere once was a cat from Peru\nWho dreamt of a shoe",
            CAT,
        ),
        ("A box holds 12 eggs. How many are in 7 boxes? Solution: 84 eggs.", CAT),
        ("Translate 'thank you' into Spanish, formally. Answer: muchas gracias.", CAT),
        (
            "Why do leaves turn red in autumn? Chlorophyll breaks down as days shorten. "
            "Red pigments called anthocyanins form in the sap. They protect the leaf as "
            "it recycles its nutrients.",
            Instruction(text="Explain autumn leaf colours."),
        ),
    ],
)
def test_one_task_drops_an_answer_pasted_into_the_instruction(
    text: str, parent: Instruction
) -> None:
    verdict = run_filter(OneTaskFilter(), child(text, parent), parent)
    assert verdict.reason == "answer_in_instruction"


@pytest.mark.parametrize(
    "text",
    [
        "Explain recursion. Also write a poem about the sea. Also list ten capital cities.",
        "Explain recursion, then describe the plot of Hamlet, and give a recipe for banana bread.",
    ],
)
def test_one_task_drops_unrelated_tasks_piled_together(text: str) -> None:
    parent = Instruction(text="Explain recursion.")
    assert run_filter(OneTaskFilter(), child(text, parent), parent).reason == "piled_tasks"


@pytest.mark.parametrize(
    "text",
    [
        "Explain recursion. Also give an example in Python and describe its base case.",
        "Explain recursion using a real-world analogy. Then show a short factorial function.",
        "Write a limerick about a cat.\n- It must mention a hat.\n- Use the word 'Peru'.",
        "Write a limerick using these words:\ncat\nhat",
        "Write a story about a dragon.\nThe story must be under 200 words.\nInclude a twist.",
        "Write a haiku about the sea. Here is the scene: a harbour at dawn in November.",
        "How long does the trip take? The bus leaves at 9:10. It stops twice. Assume each stop "
        "lasts 5 minutes.",
        "What does this function return? Inputs are sorted. Duplicates are removed. The answer "
        "must be one line.",
    ],
)
def test_one_task_keeps_one_task_with_its_requirements(text: str) -> None:
    parent = Instruction(text="Explain recursion.")
    assert run_filter(OneTaskFilter(), child(text, parent), parent).keep


def test_one_task_never_counts_what_the_parent_already_had() -> None:
    poem = Instruction(text="Improve this limerick.\nThere once was a cat\nWho sat on a hat")
    child_text = poem.text + "\nKeep the rhyme scheme AABBA."
    assert run_filter(OneTaskFilter(), child(child_text, poem), poem).keep


def test_near_copy_drops_a_depth_rewrite_with_no_new_content_word() -> None:
    parent = Instruction(text="What is the difference between a list and a tuple in Python?")
    same = child("In Python, how do lists and tuples differ?", parent)
    assert run_filter(NearCopyFilter(), same, parent).reason == "no_information_gain"
    assert run_filter(NearCopyFilter(), attrs_op(same, "breadth.mutate"), parent).keep
    more = child("In Python, how do lists and tuples differ in memory use?", parent)
    assert run_filter(NearCopyFilter(), more, parent).keep


def attrs_op(instruction: Instruction, operator: str) -> Instruction:
    return attrs.evolve(instruction, operator=operator)


# --- not_instruction ----------------------------------------------------------------------------

PROBLEM = Instruction(text="A train leaves at 09:40 and arrives at 13:15. How long is the trip?")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Not Equal", "verdict_not_instruction"),
        ("**Equal.**", "verdict_not_instruction"),
        ("New instruction:", "verdict_not_instruction"),
        ("...", "empty_instruction"),
        ("Trains.", "fragment"),
        ("A train leaves at 09:40 and arrives at 13:15 with a stop in the", "fragment"),
    ],
)
def test_not_instruction_drops(text: str, reason: str) -> None:
    verdict = run_filter(InstructionFormFilter(), child(text, PROBLEM), PROBLEM)
    assert verdict == Verdict.dropped("not_instruction", reason)


@pytest.mark.parametrize(
    "text",
    [
        "Define entropy.",
        "Is 91 prime? Answer yes or no.",
        "A train leaves at 09:40 and arrives at 13:15 after a 20-minute stop. How long is it"
        " moving?",
        "Fill in the blank: the capital of France is",
    ],
)
def test_not_instruction_keeps(text: str) -> None:
    assert run_filter(InstructionFormFilter(), child(text, PROBLEM), PROBLEM).keep


def test_not_instruction_keeps_what_the_parent_already_was() -> None:
    parent = Instruction(text="Equal")
    assert run_filter(InstructionFormFilter(), child("Not equal", parent), parent).keep


# --- refusal: requests for information and bare acknowledgements -------------------------------


@pytest.mark.parametrize(
    ("instruction", "response", "reason"),
    [
        ("Solve the equation for x.", "Please provide the equation you need to solve.",
         "asks_for_information"),
        ("Write a poem about a rare bird.", "Sure! What topic would you like the poem to be about?",
         "asks_for_information"),
        ("Summarise the report.", "Could you share the report you would like summarised?",
         "asks_for_information"),
        ("Analyse the data set.", "I need more information about the data set first.",
         "asks_for_information"),
        ("Translate the text into German.", "Understood.", "acknowledgement_only"),
        ("Plan a three-day trip to Lisbon.", "Sure, I can help with that!", "acknowledgement_only"),
        ("Explain recursion.", "I'm sorry, but I cannot help with that.", "refusal"),
    ],
)  # fmt: skip
def test_refusal_drops_non_answers(instruction: str, response: str, reason: str) -> None:
    verdict = run_filter(RefusalFilter(), instruction, response=response)
    assert verdict == Verdict.dropped("refusal", reason)


@pytest.mark.parametrize(
    ("instruction", "response"),
    [
        ("Write a two-sentence apology to a customer for a late parcel.",
         "We are so sorry your parcel arrived late. Please accept our apologies and a refund."),
        ("Write the reply a support agent sends when a customer forgot the order number.",
         "Please provide your order number so that we can look into this for you."),
        ("Is 91 a prime number? Answer yes or no.", "No."),
        ("What is 7 times 8?", "56"),
        ("Write a riddle.", "Sure! What has keys but cannot open a single lock? A piano."),
        ("Reply to confirm the meeting.", "Understood, see you on Monday."),
    ],
)  # fmt: skip
def test_refusal_keeps_answers(instruction: str, response: str) -> None:
    assert run_filter(RefusalFilter(), instruction, response=response).keep


def test_refusal_asks_only_under_the_word_limit() -> None:
    long = "Please provide the data. " + "Here is how the analysis would go in general. " * 12
    assert run_filter(RefusalFilter(), "Analyse the data.", response=long).keep


# --- near_duplicate ---------------------------------------------------------------------------


def seed(text: str) -> Instruction:
    return Instruction(text=text)


def test_near_duplicate_drops_across_lineages_with_the_id() -> None:
    index = NearDuplicateFilter().new_index()
    poem = seed("Write a short poem about a lighthouse keeper on his last night on duty.")
    other = seed("Give three tips for keeping houseplants alive during winter.")
    index.add(poem)
    index.add(other)
    twin = child(
        "Write a short poem about a lighthouse keeper on his very last night on duty.", other
    )
    verdict = index.check(twin)
    assert verdict == Verdict.dropped("near_duplicate", "near_duplicate", {"duplicate_of": poem.id})
    assert index.check(child("Explain how tides form.", other)).keep


def test_near_duplicate_keeps_rows_of_the_same_lineage() -> None:
    index = NearDuplicateFilter().new_index()
    poem = seed("Write a short poem about a lighthouse keeper on his last night on duty.")
    index.add(poem)
    grown = child(poem.text + " Use rhyme.", poem)
    assert index.check(grown).keep
    index.add(grown)
    assert index.check(child(grown.text + " Keep it short.", grown)).keep


def test_near_duplicate_keeps_same_instruction_with_different_data() -> None:
    index = NearDuplicateFilter().new_index()
    a = seed("Summarise the table below in two sentences.")
    a = Instruction(text=a.text, input="| city | rain |\n| Bergen | 2250 |\n| Madrid | 420 |")
    index.add(a)
    b = Instruction(
        text=a.text,
        input="| fruit | price |\n| apple | 3 euro per kilo |\n| kiwi | 5 euro each |",
        parent_id="0" * 16,
        round=1,
    )
    assert index.check(b).keep


def test_near_duplicate_index_scales_past_one_merge() -> None:
    index = NearDuplicateFilter().new_index()
    rows = [
        seed(f"Write a haiku about the number {i} and the colour {i * 7}.") for i in range(5000)
    ]
    for row in rows:
        index.add(row)
    assert len(index) == 5000
    copy = child(rows[4321].text + " Please.", rows[0])
    assert index.check(copy).metadata == {"duplicate_of": rows[4321].id}
