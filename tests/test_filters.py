"""Built-in eliminator filters: what each drops and keeps, and their registration."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolkit import Filter, Instruction, Verdict
from evolkit._plugins import Plugins
from evolkit.errors import ModelError
from evolkit.filters import (
    JUDGE_EXAMPLES,
    InformationGainFilter,
    JudgeExample,
    RefusalFilter,
    StopwordsFilter,
    TemplateLeakFilter,
    builtin_filters,
    english_stopwords,
    read_judgement,
)
from evolkit.testing import FakeBackend, run_filter

NAMES = [
    "not_instruction",
    "near_copy",
    "growth",
    "one_task",
    "template_leak",
    "refusal",
    "stopwords",
    "near_duplicate",
    "information_gain",
]
PARENT = "Describe how a bicycle gear system works."
CANDIDATE = "Describe how a bicycle gear system works, and compare it with a hub gear."


def dropped(verdict: Verdict, reason: str, name: str) -> bool:
    return verdict == Verdict(False, reason, name)


# --- the set of filters ---------------------------------------------------------------------


def test_plugin_registers_the_filters_cheap_ones_first() -> None:
    registry = Plugins.load(entry_points=False).filters()
    assert registry.names() == [*NAMES, "growth.band"]
    assert registry.defaults() == NAMES
    assert registry.entry("refusal").plugin == "evolkit.filters"
    # every rule that needs no model call runs before the one that does
    assert registry.defaults()[-1] == "information_gain"


@pytest.mark.parametrize("item", builtin_filters(), ids=lambda f: f.name)
def test_filters_implement_the_protocol(item: Filter) -> None:
    assert isinstance(item, Filter)
    assert item.needs_response == (item.name in {"refusal", "stopwords"})


def test_filters_are_configurable_and_renameable() -> None:
    strict = RefusalFilter(name="refusal.strict", max_words=500)
    long_apology = "Sorry, " + "this is hard to say " * 30
    assert run_filter(strict, CANDIDATE, PARENT, response=long_apology).keep is False
    assert run_filter(RefusalFilter(), CANDIDATE, PARENT, response=long_apology).keep is True
    with pytest.raises(ValueError):
        RefusalFilter(max_words=0)


# --- information_gain -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "Equal",
        "equal",
        "Equal.",
        "EQUAL",
        "**Equal**",
        "They are equal.",
        "Answer: Equal",
        "Equal or Not Equal: Equal",
        "Equal - both ask for the same thing.",
        "The two instructions are the same.",
        "identical",
    ],
)
def test_information_gain_drops_equal(reply: str) -> None:
    backend = FakeBackend(replies=[reply, reply])  # Equal both ways round
    verdict = run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)
    assert dropped(verdict, "no_information_gain", "information_gain")
    (first, _), (swapped, _) = backend.calls
    assert first[:-1] == swapped[:-1] and first[-1] != swapped[-1]
    assert PARENT in swapped[-1]["content"].split("<second>")[1]  # the pair swapped


def test_information_gain_keeps_when_the_swapped_question_disagrees() -> None:
    backend = FakeBackend(replies=["Equal", "Not Equal"])
    verdict = run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)
    assert verdict.keep and verdict.reason == "judge_disagreed"
    assert verdict.metadata == {"information_gain": {"first": "equal", "swapped": "not_equal"}}
    once = FakeBackend(replies=["Equal"])
    verdict = run_filter(InformationGainFilter(double_check=False), CANDIDATE, PARENT, once)
    assert dropped(verdict, "no_information_gain", "information_gain") and once.count == 1


def test_information_gain_asks_once_when_the_first_answer_is_not_equal() -> None:
    backend = FakeBackend(replies=["Not Equal"])
    assert run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend).keep
    assert backend.count == 1


@pytest.mark.parametrize(
    "reply",
    [
        "Not Equal",
        "Not equal.",
        "NOT EQUAL",
        "not-equal",
        "They are not equal.",
        "They aren't equal",
        "Unequal",
        "**Not Equal**",
        "Equal or Not Equal: Not Equal",
        "Not Equal. The first is equal in length, but the second adds a comparison.",
        "The second one is different: it adds a comparison.",
        "The instructions are not the same.",
    ],
)
def test_information_gain_keeps_not_equal(reply: str) -> None:
    backend = FakeBackend(replies=[reply])
    verdict = run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)
    assert verdict == Verdict.kept("information_gain")


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Hmm.",
        "banana",
        "The first is about gears; are they equal? I would say they differ.",
        "I think they are equal, although the second is different.",
        "Equally good instructions.",
    ],
)
def test_information_gain_keeps_unclear_replies_with_a_reason(reply: str) -> None:
    backend = FakeBackend(replies=[reply])
    verdict = run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)
    assert verdict == Verdict.kept("information_gain", "judge_unclear")
    backend = FakeBackend(replies=[reply])
    strict = InformationGainFilter(drop_unclear=True)
    assert dropped(run_filter(strict, CANDIDATE, PARENT, backend), "judge_unclear", strict.name)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Equal", "equal"),
        ("Not Equal", "not_equal"),
        ("Verdict: not equal", "not_equal"),
        ("they don’t equal each other", "not_equal"),
        ("nothing useful", "unclear"),
    ],
)
def test_read_judgement(reply: str, expected: str) -> None:
    assert read_judgement(reply) == expected


def test_information_gain_prompt_and_parameters() -> None:
    backend = FakeBackend(replies=["Not Equal"])
    parent = Instruction(text=PARENT, input="A road bike with 22 speeds.")
    candidate = Instruction(text=CANDIDATE, input="A road bike with 22 speeds and a hub.")
    run_filter(InformationGainFilter(), candidate, parent, backend)
    ((messages, params),) = backend.calls
    assert params == {"temperature": 0.0}
    user = messages[-1]["content"]
    first = user.index("<first>")
    second = user.index("<second>")
    assert first < user.index(PARENT) < user.index("</first>") < second
    assert second < user.index(CANDIDATE) < user.index("</second>")
    assert "A road bike with 22 speeds." in user[first:second]
    assert "A road bike with 22 speeds and a hub." in user[second:]
    assert "Equal" in user and "Not Equal" in user


def test_information_gain_shows_its_worked_examples_before_the_pair() -> None:
    backend = FakeBackend(replies=["Not Equal"])
    run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)
    ((messages, _),) = backend.calls
    assert messages[0]["role"] == "system"
    turns = messages[1:-1]
    assert len(turns) == 2 * len(JUDGE_EXAMPLES)
    for example, (ask, label) in zip(
        JUDGE_EXAMPLES, zip(turns[::2], turns[1::2], strict=True), strict=True
    ):
        assert ask["role"] == "user" and label["role"] == "assistant"
        assert ask["content"].index(example.first) < ask["content"].index(example.second)
        assert label["content"] == ("Equal" if example.equal else "Not Equal")
    # both labels are taught, and the pair to judge comes last, in the same form
    assert {example.equal for example in JUDGE_EXAMPLES} == {True, False}
    assert messages[-1]["role"] == "user" and CANDIDATE in messages[-1]["content"]
    assert messages[-1]["content"].replace(PARENT, "").replace(CANDIDATE, "") == turns[0][
        "content"
    ].replace(JUDGE_EXAMPLES[0].first, "").replace(JUDGE_EXAMPLES[0].second, "")


def test_information_gain_with_own_examples_or_none() -> None:
    own = JudgeExample("Add 2 and 3.", "What is 2 plus 3?", equal=True)
    backend = FakeBackend(replies=["Equal"] * 4)
    verdict = run_filter(InformationGainFilter(examples=[own]), CANDIDATE, PARENT, backend)
    assert dropped(verdict, "no_information_gain", "information_gain")
    run_filter(InformationGainFilter(examples=()), CANDIDATE, PARENT, backend)
    (with_own, _), _, (bare, _), _ = backend.calls
    assert [m["role"] for m in with_own] == ["system", "user", "assistant", "user"]
    assert "What is 2 plus 3?" in with_own[1]["content"] and with_own[2]["content"] == "Equal"
    assert [m["role"] for m in bare] == ["system", "user"]
    assert bare[-1]["content"] == with_own[-1]["content"]


def test_information_gain_passes_max_tokens_when_set() -> None:
    backend = FakeBackend(replies=["Not Equal"])
    run_filter(InformationGainFilter(max_tokens=8), CANDIDATE, PARENT, backend)
    assert backend.calls[0][1] == {"temperature": 0.0, "max_tokens": 8}


def test_information_gain_with_the_default_fake_keeps() -> None:
    verdict = run_filter(InformationGainFilter(), CANDIDATE, PARENT, FakeBackend.default())
    assert verdict.keep


def test_information_gain_lets_model_errors_through() -> None:
    backend = FakeBackend(replies=[ModelError("boom", kind="timeout", retryable=True)])
    with pytest.raises(ModelError):
        run_filter(InformationGainFilter(), CANDIDATE, PARENT, backend)


# --- refusal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("", "response_too_short"),
        ("   \n\t ", "response_too_short"),
        ("Sorry, I cannot help with that.", "refusal"),
        ("I'm SORRY, but that is not something I know.", "refusal"),
        ("I am sorry.", "refusal"),
        ("I apologize, but I do not know which gears you mean.", "refusal"),
        ("I can't answer this without more details about the bike.", "refusal"),
        ("I’m unable to see the bicycle you are describing.", "refusal"),
        ("As an AI language model, I do not ride bicycles.", "refusal"),
        ("My apologies: the question is unclear.", "refusal"),
    ],
)
def test_refusal_drops(response: str, reason: str) -> None:
    verdict = run_filter(RefusalFilter(), CANDIDATE, PARENT, response=response)
    assert dropped(verdict, reason, "refusal")


LONG_ANSWER = (
    "A bicycle gear system moves the chain between sprockets of different sizes. "
    "The front chainrings and the rear cassette set the ratio; a large chainring with a "
    "small rear sprocket gives a hard, fast gear, and the opposite gives an easy climbing "
    "gear. The derailleurs push the chain sideways while the rider pedals. A hub gear hides "
    "planetary gears inside the rear hub, so it shifts while standing still and needs less "
    "cleaning, but it is heavier and has fewer ratios. Sorry to say, neither is perfect."
)


@pytest.mark.parametrize(
    "response",
    [
        "42",
        "Low gears make climbing easier.",
        "The chain moves between sprockets to change the gear ratio.",
        "The sorrowful rider shifted down.",  # "sorry" only as part of another word
        LONG_ANSWER,  # an apology inside a long, real answer
    ],
)
def test_refusal_keeps(response: str) -> None:
    assert len(LONG_ANSWER.split()) >= 80
    verdict = run_filter(RefusalFilter(), CANDIDATE, PARENT, response=response)
    assert verdict == Verdict.kept("refusal")


def test_refusal_ignores_apology_words_the_instruction_asks_for() -> None:
    candidate = "Write a two-line note that says sorry to a neighbour for a noisy party."
    response = "Dear Sam, sorry for the noise last night.\nIt won't happen again."
    assert run_filter(RefusalFilter(), candidate, response=response).keep
    # the same note for an instruction that did not ask for an apology is a refusal
    assert not run_filter(RefusalFilter(), CANDIDATE, response=response).keep


def test_refusal_thresholds() -> None:
    at_limit = "Sorry " + "word " * 79  # 80 words: not short any more
    assert run_filter(RefusalFilter(), CANDIDATE, response=at_limit).keep
    assert not run_filter(RefusalFilter(), CANDIDATE, response="Sorry " + "word " * 78).keep
    picky = RefusalFilter(min_words=3)
    assert dropped(
        run_filter(picky, CANDIDATE, response="Two words"), "response_too_short", "refusal"
    )
    assert run_filter(picky, CANDIDATE, response="Three whole words").keep


def test_refusal_keeps_a_candidate_without_response() -> None:
    verdict = run_filter(RefusalFilter(), CANDIDATE, PARENT)
    assert verdict == Verdict.kept("refusal", "no_response")


# --- stopwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        "",
        "...",
        "The.",
        "It is what it is.",
        "and so on, and so forth?!",
        "I don't.",
        "Of the -- by",
    ],
)
def test_stopwords_drops(response: str) -> None:
    verdict = run_filter(StopwordsFilter(), CANDIDATE, PARENT, response=response)
    assert dropped(verdict, "only_stopwords", "stopwords")


@pytest.mark.parametrize(
    "response",
    ["42", "No.", "It is 12.", "Gears.", "It is what it is, mostly physics.", "Ça dépend."],
)
def test_stopwords_keeps(response: str) -> None:
    verdict = run_filter(StopwordsFilter(), CANDIDATE, PARENT, response=response)
    assert verdict == Verdict.kept("stopwords")


def test_stopwords_custom_list_and_missing_response() -> None:
    custom = StopwordsFilter(stopwords=["Gears", "the"])
    assert not run_filter(custom, CANDIDATE, response="The gears.").keep
    assert run_filter(custom, CANDIDATE, response="The chain.").keep
    assert run_filter(StopwordsFilter(), CANDIDATE) == Verdict.kept("stopwords", "no_response")


def test_stopword_list_is_lower_case_function_words() -> None:
    words = english_stopwords()
    assert {"the", "and", "of", "don't", "is"} <= words
    assert len(words) > 200
    assert all(w == w.casefold() and " " not in w for w in words)
    assert not {"no", "yes", "gear", "#"} & words


STOPWORDS = sorted(english_stopwords())
filler = st.lists(
    st.one_of(st.sampled_from(STOPWORDS), st.text(string.punctuation + " \n", max_size=3)),
    max_size=12,
)
content_word = st.text(st.characters(categories=["L"]), min_size=1, max_size=12).filter(
    lambda w: w.casefold() not in english_stopwords()
)


@given(before=filler, word=content_word, after=filler)
def test_stopwords_keeps_any_response_with_a_content_word(
    before: list[str], word: str, after: list[str]
) -> None:
    response = " ".join([*before, word, *after])
    assert run_filter(StopwordsFilter(), CANDIDATE, response=response).keep


@given(parts=filler)
def test_stopwords_drops_any_response_of_stop_words_and_punctuation(parts: list[str]) -> None:
    response = " ".join(part.upper() if i % 2 else part for i, part in enumerate(parts))
    assert not run_filter(StopwordsFilter(), CANDIDATE, response=response).keep


# --- template_leak ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "input"),
    [
        ("Rewrite the given prompt so that it asks about hub gears.", ""),
        ("#Rewritten Prompt#: Describe hub gears.", ""),
        ("Following the given instruction, describe hub gears.", ""),
        ("The rewritten instruction: describe hub gears.", ""),
        ("Describe hub gears in the Given-Prompt style.", ""),
        ("Describe hub gears.</rewrite>", ""),
        ("<instruction>Describe hub gears.</instruction>", ""),
        ("Describe the gears in the data.", "<rewrite_input>3 gears</rewrite_input>"),
        ("Compare < first > and <second> gear systems.", ""),
        ("Describe hub gears. < / REWRITE >", ""),
        ("#Created Prompt#: Describe a fixie.", ""),
    ],
)
def test_template_leak_drops(text: str, input: str) -> None:
    candidate = Instruction(text=text, input=input)
    verdict = run_filter(TemplateLeakFilter(), candidate, PARENT)
    assert dropped(verdict, "template_leak", "template_leak")


@pytest.mark.parametrize(
    ("text", "input"),
    [
        (CANDIDATE, ""),
        ("Give a prompt answer: which gear is best for climbing?", ""),
        ("Write an instruction manual page for a given bicycle model.", ""),
        ("Rewrite the paragraph about hub gears in plain English.", ""),
        ("Build an HTML form.", '<input type="text" name="gear">'),
        ("Explain the ranking: first, second and third gear.", ""),
    ],
)
def test_template_leak_keeps(text: str, input: str) -> None:
    verdict = run_filter(TemplateLeakFilter(), Instruction(text=text, input=input), PARENT)
    assert verdict == Verdict.kept("template_leak")


def test_template_leak_ignores_what_the_parent_already_had() -> None:
    parent = Instruction(
        text="Read the XML and answer the given prompt.",
        input="<first>Ana</first><second>Lee</second>",
    )
    candidate = Instruction(
        text="Read the XML and answer the given prompt in French.",
        input="<first>Ana</first><second>Lee</second><first>Bo</first>",
    )
    assert run_filter(TemplateLeakFilter(), candidate, parent).keep
    leaked = Instruction(text=candidate.text + " <rewrite>", input=candidate.input)
    assert not run_filter(TemplateLeakFilter(), leaked, parent).keep


def test_template_leak_needs_no_response_and_no_model() -> None:
    backend = FakeBackend(replies=[])  # any call would fail: none is made
    verdict = run_filter(TemplateLeakFilter(), "Use the given prompt.", PARENT, backend)
    assert not verdict.keep and backend.calls == []
