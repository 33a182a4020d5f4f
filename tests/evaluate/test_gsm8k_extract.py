"""Answer extraction: numbers, the three layers in every style, and the harness's rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evolkit.evaluate import (
    extract_answer,
    extract_boxed,
    find_numbers,
    format_number,
    get_style,
    gold_answer,
    harness_extract,
    harness_match,
    harness_normalize,
    numbers_match,
    parse_number,
    truncate_at_stop,
)
from evolkit.evaluate._harness import FLEXIBLE_PATTERN, STRICT_PATTERNS

# ---------------------------------------------------------------------------------------------
# numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,450,000", Fraction(1450000)),
        ("$1,450,000.", Fraction(1450000)),
        ("$ 18", Fraction(18)),
        ("18.", Fraction(18)),
        ("18.00", Fraction(18)),
        ("-6 degrees", Fraction(-6)),
        ("\u22126", Fraction(-6)),
        ("-$5", Fraction(-5)),
        ("25%", Fraction(25)),
        ("0.75", Fraction(3, 4)),
        (".5 liters", Fraction(1, 2)),
        ("3/4", Fraction(3, 4)),
        ("12.5 kg", Fraction(25, 2)),
        ("1,234.56", Fraction(123456, 100)),
        ("about 7 eggs", Fraction(7)),
    ],
)
def test_parse_number_reads_each_form(text: str, value: Fraction) -> None:
    assert parse_number(text) == value


def test_numbers_inside_expressions_are_not_signed() -> None:
    assert [v for v, _ in find_numbers("10-4=6")] == [10, 4, 6]
    assert [v for v, _ in find_numbers("x = -4 + 2")] == [-4, 2]


def test_numbers_are_not_read_out_of_words_or_decimals() -> None:
    assert [v for v, _ in find_numbers("model v2 and 3.5")] == [Fraction(7, 2)]


def test_separators_that_are_not_thousands_split_numbers() -> None:
    assert [v for v, _ in find_numbers("1,2345")] == [1, 2345]
    assert [v for v, _ in find_numbers("3, 4, 5")] == [3, 4, 5]


def test_no_number_and_zero_denominator() -> None:
    assert parse_number("no digits here") is None
    assert parse_number("3/0") is None


def test_numbers_match_uses_a_tolerance() -> None:
    assert numbers_match(Fraction(3, 4), Fraction(75, 100))
    assert numbers_match(18.0000001, Fraction(18))
    assert not numbers_match(18.01, Fraction(18))
    assert not numbers_match(None, Fraction(18))
    assert numbers_match(1450000.5, 1450000, rel_tol=1e-6)
    assert not numbers_match(1450002, 1450000, rel_tol=1e-6)


def test_format_number() -> None:
    assert format_number(Fraction(1450000)) == "1450000"
    assert format_number(Fraction(-3, 4)) == "-0.75"
    assert format_number(Fraction(1, 3)) == "1/3"


# ---------------------------------------------------------------------------------------------
# layered extraction, style by style

W = get_style("wizardmath").marker
G = get_style("gsm8k").marker
C = get_style("gsm8k_cot").marker
H = get_style("chat").marker


@pytest.mark.parametrize(
    ("output", "marker", "value", "layer"),
    [
        # wizardmath
        ("Let's see: 16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\nThe answer is: 18", W, 18, "marker"),
        ("She earns 18 dollars.\nThe answer is: $18 per day.", W, 18, "marker"),
        ("The answer is: $1,450,000.", W, 1450000, "marker"),
        ("It drops below zero.\nThe answer is: -6", W, -6, "marker"),
        ("The answer is: 3/4", W, Fraction(3, 4), "marker"),
        ("The answer is: 25%", W, 25, "marker"),
        ("The answer is:\n\n42", W, 42, "marker"),
        ("3 * 6 = 18\nThe answer is: eighteen", W, 18, "last_number"),
        ("The answer is: **7**", W, 7, "marker"),
        ("The answer is: 5 apples. Then 7 more were bought.", W, 5, "marker"),
        ("First 2 then 3.\nThe answer is: 4\nThe answer is: 9", W, 9, "marker"),
        ("So the total is 42 apples.", W, 42, "last_number"),
        # gsm8k (few-shot, '#### N')
        (
            "Natalia sold 48/2 = <<48/2=24>>24 clips.\nIn all 48+24 = <<48+24=72>>72.\n#### 72",
            G,
            72,
            "marker",
        ),
        ("Total: 1,250 + 200,000 = 201,250\n#### 201,250", G, 201250, "marker"),
        ("#### $18.", G, 18, "marker"),
        ("He pays 12 dollars.", G, 12, "last_number"),
        # gsm8k_cot ('The answer is N.')
        (
            "There are 15 trees. After planting, 21. So 21 - 15 = 6. The answer is 6.",
            C,
            6,
            "marker",
        ),
        ("The answer is 0.5.", C, Fraction(1, 2), "marker"),
        ("Q: twelve ... The answer is 1,000,000.", C, 1000000, "marker"),
        # chat
        ("**Step 1:** 4 * 5 = 20\n\n**Final answer:** 20", H, 20, "marker"),
        ("The final answer is $\\boxed{1,450}$.", H, 1450, "marker"),
        ("Adding up, the answer is 30 marbles.", H, 30, "marker"),
    ],
)
def test_extract_answer_in_each_style(
    output: str, marker: object, value: Fraction | int, layer: str
) -> None:
    found = extract_answer(output, marker)  # type: ignore[arg-type]
    assert found.value == value
    assert found.layer == layer


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ("So we get $\\boxed{18}$.", 18),
        ("Total \\boxed{1,450,000} dollars", 1450000),
        ("\\boxed{\\frac{3}{4}}", Fraction(3, 4)),
        ("\\boxed{\\dfrac{12}{8}}", Fraction(3, 2)),
        ("\\boxed{\\$18.50}", Fraction(37, 2)),
        ("\\boxed{25\\%}", 25),
        ("\\boxed{18 \\text{ eggs}}", 18),
        ("\\boxed{1\\,450\\,000}", 1450000),
        ("first \\boxed{3}, corrected: \\boxed{-4}", -4),
        ("\\fbox{7}", 7),
    ],
)
def test_boxed_layer(output: str, value: Fraction | int) -> None:
    found = extract_answer(output, get_style("gsm8k").marker)
    assert found.layer == "boxed"
    assert found.value == value


def test_boxed_without_number_falls_through_to_last_number() -> None:
    found = extract_answer("We get 12 and \\boxed{x}", get_style("gsm8k").marker)
    assert (found.value, found.layer) == (12, "last_number")
    assert extract_boxed("\\boxed{unclosed 3") is None


@pytest.mark.parametrize("style", ["wizardmath", "gsm8k", "gsm8k_cot", "chat"])
def test_no_number_is_invalid_in_every_style(style: str) -> None:
    found = extract_answer("I am not sure how to solve this.", get_style(style).marker)
    assert not found.found
    assert found.layer is None and found.normalized is None


def test_marker_of_another_style_counts_only_as_a_later_layer() -> None:
    output = "The answer is: 18"
    assert extract_answer(output, get_style("wizardmath").marker).layer == "marker"
    assert extract_answer(output, get_style("gsm8k").marker).layer == "last_number"


def test_gold_answer_reads_the_final_line() -> None:
    assert gold_answer("a <<2*3=6>>6 b\n#### 1,450,000") == 1450000
    assert gold_answer("no final line 5") is None
    assert gold_answer("#### none") is None


def test_truncate_at_stop_cuts_at_the_earliest_stop() -> None:
    text = "5 + 5 = 10\n#### 10\n\nQuestion: next one\nAnswer: 3"
    assert truncate_at_stop(text, ("Question:", "</s>")) == "5 + 5 = 10\n#### 10\n\n"
    assert truncate_at_stop("abc", ()) == "abc"


# ---------------------------------------------------------------------------------------------
# lm-evaluation-harness's rules, re-implemented, side by side with evolkit's extraction

SOLUTION_18 = "She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs for 9 * 2 = <<9*2=18>>18 dollars.\n#### 18"
SOLUTION_BIG = (
    "The city grows to 1,200,000 + 250,000 = <<1200000+250000=1450000>>1,450,000.\n#### 1450000"
)


def test_harness_extract_first_and_last_match() -> None:
    text = "#### 5 and later #### 7"
    assert harness_extract(text, STRICT_PATTERNS["gsm8k"]) == "5"
    assert harness_extract(text, STRICT_PATTERNS["gsm8k"], last=True) == "7"
    assert harness_extract("nothing", STRICT_PATTERNS["gsm8k"]) == "[invalid]"
    # Two alternative groups: the non-empty one is used.
    assert harness_extract("costs $12.", FLEXIBLE_PATTERN, last=True) == "$12."
    assert harness_extract("x 7 y", FLEXIBLE_PATTERN, last=True) == "7"


def test_harness_normalize() -> None:
    assert harness_normalize("$1,450,000.") == "1450000"
    assert harness_normalize("blah\n#### 72") == "72"
    assert harness_normalize("[invalid]") == "[invalid]"


# (output, gold solution, style, evolkit strict, evolkit flexible, harness strict, harness flex)
SIDE_BY_SIDE = [
    # Plain agreement.
    ("So 9 * 2 = 18.\n#### 18", SOLUTION_18, "gsm8k", True, True, True, True),
    ("So 9 * 2 = 18. The answer is 18.", SOLUTION_18, "gsm8k_cot", True, True, True, True),
    # Thousands separators: both normalise them.
    ("#### 1,450,000", SOLUTION_BIG, "gsm8k", True, True, True, True),
    # A dollar sign after the marker: the strict pattern has no '$', evolkit reads the value.
    ("The answer is $18.", SOLUTION_18, "gsm8k_cot", True, True, False, True),
    ("#### $18", SOLUTION_18, "gsm8k", True, True, False, True),
    # Trailing zeros: string comparison fails, numeric comparison does not.
    ("The answer is 18.00.", SOLUTION_18, "gsm8k_cot", True, True, False, False),
    # No character after the number: the cot pattern's final '.' eats the last digit.
    ("The answer is 18", SOLUTION_18, "gsm8k_cot", True, True, False, True),
    # A unit after the number: the last number is still 18 for both.
    ("The answer is 18 dollars.", SOLUTION_18, "gsm8k_cot", True, True, True, True),
    # A run-on continuation: the harness's last number belongs to an invented next question,
    # evolkit's flexible score still reads the marker first.
    ("#### 18\n\nQuestion: Tom has 3", SOLUTION_18, "gsm8k", True, True, True, False),
    # Wrong answer everywhere.
    ("#### 17", SOLUTION_18, "gsm8k", False, False, False, False),
    # Right number without the marker: flexible only.
    ("She earns 18 dollars", SOLUTION_18, "gsm8k", False, True, False, True),
    # A boxed answer followed by a remark with another number.
    ("\\boxed{18} (checked in 2 ways)", SOLUTION_18, "gsm8k", False, True, False, False),
    # No number: invalid for both.
    ("I do not know.", SOLUTION_18, "gsm8k", False, False, False, False),
    # Styles without a harness strict pattern.
    ("The answer is: 18", SOLUTION_18, "wizardmath", True, True, None, True),
    ("The answer is 18.", SOLUTION_18, "chat", True, True, None, True),
]


@pytest.mark.parametrize(
    ("output", "solution", "style", "strict", "flexible", "h_strict", "h_flexible"), SIDE_BY_SIDE
)
def test_evolkit_and_harness_on_the_same_outputs(
    output: str,
    solution: str,
    style: str,
    strict: bool,
    flexible: bool,
    h_strict: bool | None,
    h_flexible: bool,
) -> None:
    gold = gold_answer(solution)
    found = extract_answer(output, get_style(style).marker)
    assert (found.layer == "marker" and numbers_match(found.value, gold)) is strict
    assert numbers_match(found.value, gold) is flexible
    assert harness_match(output, solution, style) == (h_strict, h_flexible)


def test_cot_strict_pattern_drops_the_last_digit_at_end_of_text() -> None:
    assert harness_extract("The answer is 18", STRICT_PATTERNS["gsm8k_cot"]) == "1"
