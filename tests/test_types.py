from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolkit import Instruction, Verdict
from evolkit._types import Completion, Usage, content_id

texts = st.text(min_size=1).filter(lambda s: s.strip())


@given(texts, st.text())
def test_id_is_stable_and_content_derived(text: str, input: str) -> None:
    a = Instruction(text=text, input=input)
    b = Instruction(text=text, input=input, response="anything", round=3, operator="x")
    assert a.id == b.id == content_id(text, input)
    assert len(a.id) == 16


@given(texts, texts)
def test_different_content_different_id(a: str, b: str) -> None:
    if a != b:
        assert Instruction(text=a).id != Instruction(text=b).id


def test_text_and_input_do_not_collide() -> None:
    assert content_id("ab", "c") != content_id("a", "bc")


def test_frozen_and_evolve() -> None:
    inst = Instruction(text="Explain tides.")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        inst.text = "other"  # type: ignore[misc]
    child = inst.derive("Explain tides using the moon's mass.")
    assert child.id != inst.id and child.response is None
    assert attrs.evolve(inst, response="r").response == "r"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "ok", "round": -1},
        {"text": "ok", "metadata": {"x": object()}},
        {"text": 3},
    ],
)
def test_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Instruction(**kwargs)  # type: ignore[arg-type]


@given(
    st.builds(
        Instruction,
        text=texts,
        input=st.text(),
        response=st.none() | st.text(),
        parent_id=st.none() | st.text(min_size=1, alphabet="abcdef0123456789"),
        operator=st.none() | st.sampled_from(["depth.deepen", "breadth.mutate"]),
        round=st.integers(0, 10),
        metadata=st.dictionaries(st.text(), st.integers() | st.text()),
    )
)
def test_record_round_trip(inst: Instruction) -> None:
    assert Instruction.from_record(inst.to_record()) == inst


def test_verdict() -> None:
    assert Verdict.kept("f").keep
    v = Verdict.dropped("f", "refusal")
    assert not v.keep and v.reason == "refusal" and v.filter == "f"
    with pytest.raises(ValueError):
        Verdict.dropped("f", "")


def test_completion_json_and_usage() -> None:
    c = Completion("hi", Usage(3, 4, 0.5), "m", "stop")
    assert Completion.from_json(c.to_json()) == c
    assert (Usage(1, 2, 0.1) + Usage(1, 1, 0.2)).total_tokens == 5


@pytest.mark.parametrize(
    ("text", "input", "expected"),
    [
        ("Sum the list.", "", "Sum the list."),
        ("Sum the list.", "  \n ", "Sum the list."),
        ("Sum the list.", "[1, 2]", "Sum the list.\n\n[1, 2]"),
    ],
)
def test_every_layer_renders_the_same_user_message(text: str, input: str, expected: str) -> None:
    from evolkit.engine.steps import response_messages
    from evolkit.io import to_chat_record
    from evolkit.train._data import PromptExample, as_messages

    inst = Instruction(text=text, input=input, response="ok")
    assert inst.user_message() == expected
    # The prompt a model is trained on is the one the engine answered, whitespace and all.
    assert response_messages(inst)[-1]["content"] == expected
    assert to_chat_record(inst)["messages"][0]["content"] == expected
    assert as_messages(PromptExample(text, input, "ok", None))[0]["content"] == expected


#: blake2b-64 of the UTF-8 text, a 0x1f byte, the UTF-8 input; written down once, on purpose.
GOLDEN_IDS = ("b0a79ca34c344f72", "a210a0e58d6f8e4a", "8a262fc3aa25ccc9")


def test_content_id_is_pinned() -> None:
    # Journals and caches are keyed through these ids: a change here invalidates every
    # user's finished work, so it must be deliberate (and bump the state version).
    assert content_id("Sum the list.") == GOLDEN_IDS[0]
    assert content_id("Sum the list.", "[1, 2]") == GOLDEN_IDS[1]
    assert content_id("Écris un poème ✓", "") == GOLDEN_IDS[2]
    assert Instruction(text="Sum the list.", input="[1, 2]").id == GOLDEN_IDS[1]
