"""Reading a final answer: the forms it may take, the number parsing shared with evaluation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from evolkit.evaluate import extract_answer, find_numbers

from evolkit_math.answers import (
    ANSWER_MARKER,
    answer_text,
    canonical,
    final_answer,
    parse_number,
    read_answer,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", Fraction(42)),
        ("-7", Fraction(-7)),
        ("−5", Fraction(-5)),  # typographic minus
        ("1,250", Fraction(1250)),
        ("12,345,678", Fraction(12345678)),
        ("3.75", Fraction(15, 4)),
        (".5", Fraction(1, 2)),
        ("1,250.50", Fraction(2501, 2)),
        ("3/4", Fraction(3, 4)),
        ("$12", Fraction(12)),
        ("0", Fraction(0)),
    ],
)
def test_numbers_in_the_accepted_forms(text: str, value: Fraction) -> None:
    assert parse_number(text) == value
    # one implementation: the evaluation reads the same value
    assert find_numbers(text)[0][0] == value


@pytest.mark.parametrize("text", ["", "twelve", "12 apples", "3/0", "x = 4", "1 and 2"])
def test_not_one_number(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(36), "36"),
        (Fraction(-13, 4), "-3.25"),
        (Fraction(1, 3), "1/3"),
        (Fraction(-2, 3), "-2/3"),
        (Fraction(1, 8), "0.125"),
        (Fraction(2501, 2), "1250.5"),
    ],
)
def test_canonical_spelling(value: Fraction, text: str) -> None:
    assert canonical(value) == text
    assert parse_number(text) == value


def test_equal_values_have_one_spelling() -> None:
    spellings = ["0.5", ".50", "1/2", "2/4", "0.5000"]
    assert {final_answer(f"Half of it.\nThe answer is: {s}") for s in spellings} == {"0.5"}


@pytest.mark.parametrize(
    ("solution", "answer", "layer"),
    [
        ("3 boxes of 12 is 36.\nThe answer is: 36", "36", "marker"),
        ("So 31 hens remain.\nthe answer is 31.", "31", "marker"),
        ("The final answer is $1,250.", "1250", "marker"),
        ("Natalia sold 48 + 24 = 72 clips.\n#### 72", "72", "marker"),
        ("The answer is: 36\nI hope this helps!", "36", "marker"),
        ("Total: 3 \\times 12 = 36.\n\nSo the answer is \\boxed{36}.", "36", "marker"),
        ("Total: 3 \\times 12 = 36, so we get $\\boxed{36}$.\nDone.", "36", "boxed"),
        ("Half of it: $\\boxed{\\frac{1}{2}}$", "0.5", "boxed"),
        ("Each costs $3, 4 of them cost\n$12", "12", "last_number"),
        ("She spends 4 x 3 + 6 x 1.50 = 21.\nSo Maya spends $21.", "21", "last_number"),
    ],
)
def test_final_answer_forms(solution: str, answer: str, layer: str) -> None:
    assert final_answer(solution) == answer
    found = read_answer(solution)
    assert found is not None and found.layer == layer
    # the same reading as the GSM8K evaluation
    assert extract_answer(solution, ANSWER_MARKER).normalized == answer


@pytest.mark.parametrize(
    "solution",
    [
        "",
        "Add them up and you are done.",
        "3 boxes of 12 is 36 eggs.\nI hope this helps!",
        "So 31 hens remain.\nThe answer is: thirty-one",
    ],
)
def test_no_final_answer(solution: str) -> None:
    assert final_answer(solution) is None
    assert read_answer(solution) is None


def test_answer_text_keeps_what_was_written() -> None:
    assert answer_text("...\nThe answer is: twelve dollars.") == "twelve dollars"
    assert answer_text("Work.\n#### 1,024") == "1,024"
    assert answer_text("No marker here") is None
    assert final_answer("Step 1: 5 + 7 = 12\n  The answer is:   1,024  \n\n") == "1024"
