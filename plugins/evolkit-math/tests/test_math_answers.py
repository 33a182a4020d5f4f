"""Reading ``The answer is: N``: accepted number forms, canonical spelling, and what is refused."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evolkit_math.answers import answer_text, canonical, final_answer, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", Fraction(42)),
        ("-7", Fraction(-7)),
        ("+3", Fraction(3)),
        ("−5", Fraction(-5)),  # typographic minus
        ("1,250", Fraction(1250)),
        ("12,345,678", Fraction(12345678)),
        ("3.75", Fraction(15, 4)),
        (".5", Fraction(1, 2)),
        ("1,250.50", Fraction(2501, 2)),
        ("3/4", Fraction(3, 4)),
        ("-7 / 2", Fraction(-7, 2)),
        ("0", Fraction(0)),
    ],
)
def test_numbers_in_the_accepted_forms(text: str, value: Fraction) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "twelve", "12,34", "1,2345", "$12", "12 apples", "3/0", "1.2.3", "x = 4", "1/2/3", "5%"],
)
def test_not_numbers(text: str) -> None:
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
    spellings = ["0.5", ".50", "1/2", "2/4", "+0.5000"]
    assert {final_answer(f"Half of it.\nThe answer is: {s}") for s in spellings} == {"0.5"}


def test_final_answer_reads_only_the_last_line() -> None:
    solution = "The answer is: 3 boxes at first.\nThen 3 * 12 = 36 eggs.\nThe answer is: 36."
    assert final_answer(solution) == "36"
    assert answer_text(solution) == "36"
    assert final_answer("The answer is: 36\nWait, let me check that again.") is None
    assert answer_text("No final line here") is None
    assert answer_text("") is None


def test_answer_text_keeps_what_was_written() -> None:
    assert answer_text("...\nThe answer is: twelve dollars.") == "twelve dollars"
    assert final_answer("...\nThe answer is: twelve dollars.") is None
    assert final_answer("Step 1: 5 + 7 = 12\n  The answer is:   1,024  \n\n") == "1024"
