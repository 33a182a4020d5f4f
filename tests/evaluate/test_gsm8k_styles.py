"""Prompt styles: their prompts, their worked examples, and the template shared with training."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from evolkit.errors import ConfigError, UnknownNameError
from evolkit.evaluate import EXEMPLARS, STYLES, get_style, gold_answer, load_gsm8k
from evolkit.evaluate._styles import CHAT_INSTRUCTION, WIZARDMATH_RESPONSE_START
from evolkit.templates import ALPACA

QUESTION = "Ana has 3 bags with 4 apples each. How many apples does she have?"


def test_every_style_is_documented_and_stops_sensibly() -> None:
    assert set(STYLES) == {"wizardmath", "gsm8k", "gsm8k_cot", "chat"}
    for style in STYLES.values():
        assert style.description
        assert all(stop for stop in style.stop)


def test_wizardmath_prompt_is_the_training_template_plus_the_response_opening() -> None:
    prompt = get_style("wizardmath").prompt(QUESTION)
    assert prompt.messages is None
    assert prompt.text == ALPACA.render(QUESTION) + WIZARDMATH_RESPONSE_START
    assert prompt.text.endswith("### Response:\nLet's think step by step.")
    assert ALPACA.instruction_header in get_style("wizardmath").stop


def test_wizardmath_marker_reads_the_answer_line() -> None:
    marker = get_style("wizardmath").marker
    assert marker.search("so.\nThe answer is: 12")
    assert marker.search("the answer is 12")


def test_gsm8k_prompt_layout() -> None:
    style = get_style("gsm8k")
    shots = style.exemplars()
    assert len(shots) == 5
    text = style.prompt(QUESTION, shots).text
    assert text is not None
    assert text.endswith(f"Question: {QUESTION}\nAnswer:")
    assert text.count("Question:") == 6
    assert text.count("\n#### ") == 5
    first_q, first_a = EXEMPLARS[0]
    assert text.startswith(f"Question: {first_q}\nAnswer: {first_a}\n\n")
    assert "Question:" in style.stop


def test_gsm8k_cot_prompt_layout() -> None:
    style = get_style("gsm8k_cot")
    shots = style.exemplars()
    assert len(shots) == 8
    text = style.prompt(QUESTION, shots).text
    assert text is not None
    assert text.endswith(f"Q: {QUESTION}\nA:")
    answers = re.findall(r"The answer is (-?\d+)\.\n\nQ:", text)
    assert [int(a) for a in answers] == [int(gold_answer(s) or 0) for _, s in EXEMPLARS]
    assert "<<" not in text and "####" not in text


def test_chat_style_builds_messages() -> None:
    prompt = get_style("chat").prompt(QUESTION)
    assert prompt.text is None
    assert prompt.messages is not None and len(prompt.messages) == 1
    assert prompt.messages[0]["role"] == "user"
    assert prompt.messages[0]["content"] == f"{QUESTION}\n\n{CHAT_INSTRUCTION}"
    assert prompt.as_messages() == list(prompt.messages)
    assert prompt.display().startswith("user: Ana has")


def test_text_prompt_as_chat_is_one_user_message() -> None:
    prompt = get_style("gsm8k").prompt(QUESTION)
    assert prompt.as_messages() == [{"role": "user", "content": prompt.text}]


def _evaluate_calculator_note(expression: str) -> Fraction:
    # Only digits, operators, dots and parentheses: evaluate with Fractions, exactly.
    assert re.fullmatch(r"[-+*/(). 0-9]+", expression), expression
    tokens = re.sub(r"(\d+(?:\.\d+)?)", r"Fraction('\1')", expression)
    return Fraction(eval(tokens, {"Fraction": Fraction}))


@pytest.mark.parametrize(("question", "solution"), EXEMPLARS)
def test_builtin_examples_are_arithmetically_right(question: str, solution: str) -> None:
    notes = re.findall(r"<<([^=<>]+)=([^<>]+)>>", solution)
    assert notes, "every worked example shows its calculations"
    for expression, result in notes:
        assert _evaluate_calculator_note(expression) == Fraction(result)
    final = gold_answer(solution)
    assert final is not None
    assert Fraction(notes[-1][1]) == final
    assert question.endswith("?")


def test_few_shot_from_a_train_file_is_seeded() -> None:
    rows = [
        {"question": f"Q{i}: what is {i} + {i}?", "answer": f"{i}+{i}={2 * i}\n#### {2 * i}"}
        for i in range(20)
    ]
    train = load_gsm8k(rows, split="train")
    style = get_style("gsm8k")
    first = style.exemplars(train, 3, seed=1)
    assert len(first) == 3
    assert first == style.exemplars(train, 3, seed=1)
    assert first != style.exemplars(train, 3, seed=2)
    assert all(q.startswith("Q") for q, _ in first)
    with pytest.raises(ConfigError, match="has 20"):
        style.exemplars(train, 21)


def test_few_shot_limits() -> None:
    with pytest.raises(ConfigError, match="built-in examples"):
        get_style("gsm8k").exemplars(k=9)
    with pytest.raises(ConfigError, match="zero-shot"):
        get_style("wizardmath").exemplars(k=2)
    with pytest.raises(ConfigError, match=">= 0"):
        get_style("gsm8k").exemplars(k=-1)
    assert get_style("gsm8k").exemplars(k=0) == ()
    stripped = get_style("gsm8k").exemplars(k=2, strip_calculator=True)
    assert all("<<" not in s for _, s in stripped)


def test_unknown_style_suggests_names() -> None:
    with pytest.raises(UnknownNameError, match="gsm8k_cot"):
        get_style("gsm8k-cot")
