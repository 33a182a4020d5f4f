"""``math.final_answer`` and ``math.self_consistency``: what they keep, what they drop, and why."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest
from evolkit import ChatMessage, Filter, Instruction, Verdict
from evolkit.testing import FakeBackend, run_filter

from evolkit_math import FinalAnswerFilter, SelfConsistencyFilter
from evolkit_math.filters import Vote, _majority

PROBLEM = "A farmer has 3 pens with 12 hens each. He sells 5 hens. How many hens are left?"
SOLUTION = "3 pens times 12 hens is 36 hens.\n36 - 5 = 31.\nThe answer is: 31"


# --- math.final_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        SOLUTION,
        "Work: 1,000 + 250 = 1,250\nThe answer is: 1,250",
        "Each share is 7/2.\nThe answer is: 7/2.",
        "The temperature drops by 4.5 degrees twice.\nThe answer is: -9",
        "The answer is: 0.75\n\n",
        "The answer is: 31\nI hope this helps!",
        "So 31 hens remain.\nthe answer is 31",
        "So 31 hens remain.\nThe answer is: 31 hens",
    ],
)
def test_final_answer_keeps(response: str) -> None:
    verdict = run_filter(FinalAnswerFilter(), PROBLEM, response=response)
    assert verdict == Verdict.kept("math.final_answer", metadata={"answer_form": "marker"})


@pytest.mark.parametrize(
    ("response", "form"),
    [
        ("36 - 5 = 31, so there are $\\boxed{31}$ hens left.\nDone.", "boxed"),
        ("3 pens of 12 hens is 36; 36 - 5 = 31 hens are left.", "last_number"),
        ("36 hens minus 5 sold.\n31", "last_number"),
    ],
)
def test_final_answer_keeps_other_forms(response: str, form: str) -> None:
    verdict = run_filter(FinalAnswerFilter(), PROBLEM, response=response)
    assert verdict == Verdict.kept("math.final_answer", metadata={"answer_form": form})


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("36 hens, minus the 5 sold.\nI hope this helps!", "no_final_answer"),
        ("", "no_final_answer"),
        ("So 31 hens remain.\nThe answer is: thirty-one", "answer_not_numeric"),
        ("So 31 hens remain.\nThe answer is:", "answer_not_numeric"),
    ],
)
def test_final_answer_drops(response: str, reason: str) -> None:
    verdict = run_filter(FinalAnswerFilter(), PROBLEM, response=response)
    assert verdict == Verdict.dropped("math.final_answer", reason)


def test_final_answer_keeps_a_candidate_without_response() -> None:
    assert run_filter(FinalAnswerFilter(), PROBLEM).reason == "no_response"
    assert FinalAnswerFilter().needs_response is True
    assert isinstance(FinalAnswerFilter(), Filter)


# --- math.self_consistency ------------------------------------------------------------------


def scripted(*answers: str) -> FakeBackend:
    """A fake model whose solutions end with ``answers`` in turn ("" for no final answer)."""
    replies = [
        f"Working...\nThe answer is: {a}" if a else "About thirty, I think." for a in answers
    ]
    return FakeBackend(replies=replies)


def test_majority_keeps_with_the_reason() -> None:
    backend = scripted("31", "31", "29", "31.0", "62/2")
    verdict = run_filter(SelfConsistencyFilter(k=5), PROBLEM, backend=backend)
    assert verdict.keep and verdict.reason == "majority_agrees"
    assert verdict.filter == "math.self_consistency"
    assert len(backend.calls) == 5


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (("31", "29", "30", "31", "28"), "no_majority"),
        (("31", "29", "30"), "no_majority"),
        (("", "", ""), "no_answer"),
        (("31", "", ""), "no_majority"),
    ],
)
def test_drops_without_a_majority(answers: tuple[str, ...], reason: str) -> None:
    flt = SelfConsistencyFilter(k=len(answers))
    verdict = run_filter(flt, PROBLEM, backend=scripted(*answers))
    assert verdict == Verdict.dropped("math.self_consistency", reason)


def test_min_votes_sets_the_threshold() -> None:
    answers = ("31", "31", "29", "30", "28")
    loose = SelfConsistencyFilter(k=5, min_votes=2)
    strict = SelfConsistencyFilter(k=5, min_votes=5)
    assert run_filter(loose, PROBLEM, backend=scripted(*answers)).keep
    assert not run_filter(strict, PROBLEM, backend=scripted("31", "31", "31", "31", "30")).keep
    assert run_filter(strict, PROBLEM, backend=scripted(*["31"] * 5)).keep
    assert SelfConsistencyFilter(k=3).needed == 2
    assert SelfConsistencyFilter(k=4).needed == 3
    assert SelfConsistencyFilter(k=5).needed == 3


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"k": 3, "min_votes": 4}, {"k": 3, "min_votes": 0}])
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SelfConsistencyFilter(**kwargs)  # type: ignore[arg-type]


def test_a_response_that_disagrees_with_the_majority_is_dropped() -> None:
    flt = SelfConsistencyFilter(k=3)
    wrong = "36 - 5 = 30\nThe answer is: 30"
    verdict = run_filter(flt, PROBLEM, backend=scripted("31", "31", "31"), response=wrong)
    assert verdict == Verdict.dropped("math.self_consistency", "response_disagrees")
    right = run_filter(flt, PROBLEM, backend=scripted("31", "31", "31"), response=SOLUTION)
    assert right.keep
    unchecked = SelfConsistencyFilter(k=3, check_response=False)
    assert run_filter(unchecked, PROBLEM, backend=scripted("31", "31", "31"), response=wrong).keep


def test_the_k_requests_differ_so_journal_and_cache_keep_them_apart() -> None:
    backend = scripted("31", "31", "31")
    run_filter(SelfConsistencyFilter(k=3), PROBLEM, backend=backend)
    requests = [repr((messages, params)) for messages, params in backend.calls]
    assert len(set(requests)) == 3
    for messages, params in backend.calls:
        assert PROBLEM in messages[-1]["content"]
        assert messages[-1]["content"].rstrip().endswith("The answer is: N")
        assert params["temperature"] > 0


def test_seed_param_varies_the_parameters_instead_of_the_prompt() -> None:
    backend = scripted("31", "31", "31")
    run_filter(SelfConsistencyFilter(k=3, seed_param="seed"), PROBLEM, backend=backend)
    prompts = {messages[-1]["content"] for messages, _ in backend.calls}
    assert len(prompts) == 1
    assert [params["seed"] for _, params in backend.calls] == [0, 1, 2]


def test_the_problem_input_is_part_of_the_request() -> None:
    seen: list[Sequence[ChatMessage]] = []

    def solver(messages: Sequence[ChatMessage]) -> str:
        seen.append(messages)
        return "x = 4\nThe answer is: 4"

    candidate = Instruction(text="Solve the equation for x.", input="2x + 3 = 11")
    verdict = run_filter(SelfConsistencyFilter(k=3), candidate, backend=FakeBackend(solver))
    assert verdict.keep
    assert all("2x + 3 = 11" in m[-1]["content"] for m in seen)


def test_vote_returns_the_agreed_answer() -> None:
    import asyncio

    flt = SelfConsistencyFilter(k=5)
    vote = asyncio.run(flt.vote(Instruction(text=PROBLEM), scripted("31", "29", "31", "", "31")))
    assert vote == Vote(("31", "29", "31", None, "31"), "31", 3)
    assert vote.samples == 5


def test_ties_go_to_the_first_answer() -> None:
    assert _majority(("2", "1", "1", "2")).answer == "2"
    assert _majority((None, None)) == Vote((None, None), None, 0)


def test_the_agreed_answer_rides_on_the_verdict_when_evolkit_supports_it() -> None:
    verdict = run_filter(SelfConsistencyFilter(k=3), PROBLEM, backend=scripted("31", "31", "7"))
    assert verdict.keep
    if "metadata" in attrs.fields_dict(Verdict):
        assert verdict.metadata == {  # type: ignore[attr-defined]
            "answer": "31",
            "answer_votes": 2,
            "answer_samples": 3,
        }


def test_self_consistency_is_a_filter_that_does_not_need_a_response() -> None:
    flt = SelfConsistencyFilter()
    assert isinstance(flt, Filter)
    assert flt.needs_response is False
    assert flt.k == 5
