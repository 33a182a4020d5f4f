"""Concepts written once and shared: the refusal detector, the child-server helper and the
duplicate rules. Each test proves that the callers go through the one place."""

from __future__ import annotations

import sys

import pytest

from evolkit import Instruction, Rejected
from evolkit._child import ChildServer, ServerError
from evolkit._refusal import OPENING_REFUSALS, REFUSAL_PHRASES, find_refusal
from evolkit.backends._server import ServerProcess as LocalServerProcess
from evolkit.engine.dedupe import Dedupe
from evolkit.filters.near_duplicate import NearDuplicateFilter
from evolkit.filters.refusal import RefusalFilter
from evolkit.operators import DEEPEN
from evolkit.operators._reply import looks_like_refusal
from fakeserver import ServerProcess as FakeServerProcess

PARENT = Instruction(text="Explain why copper is used in household wiring.")

# --- refusal -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't rewrite that.",
        "I’m sorry, but I can’t rewrite that.",  # typographic apostrophes
        "  **As an AI**, I cannot do this.",
        "I cant do that",
        "I apologise, this is not possible.",
    ],
)
def test_a_rewrite_opening_with_a_refusal_is_rejected(text: str) -> None:
    assert looks_like_refusal(text)
    assert find_refusal(text, OPENING_REFUSALS, opening=True) is not None
    assert DEEPEN.parse(f"<rewrite>{text}</rewrite>", PARENT) == Rejected("refused")


@pytest.mark.parametrize(
    "text",
    [
        "Apologize to a customer whose parcel arrived late.",
        "I don't have access to a calculator: how do I compute 17 × 23 by hand?",
        "Write a story where a robot says 'I cannot' three times.",
        "Sorrowful songs: name three and explain their mood.",
    ],
)
def test_an_instruction_that_only_mentions_a_refusal_is_not_one(text: str) -> None:
    assert not looks_like_refusal(text)


def test_the_filter_matches_anywhere_the_operator_only_at_the_opening() -> None:
    text = "Here is my answer. Sorry, I cannot say more."
    assert find_refusal(text) == "Sorry"
    assert find_refusal(text, OPENING_REFUSALS, opening=True) is None
    assert RefusalFilter().refusal_phrase(text) == "Sorry"


def test_the_filter_forgives_the_phrases_its_instruction_contains() -> None:
    response = "Sorry for the delay with your order."
    assert find_refusal(response, REFUSAL_PHRASES, instruction="Write an apology.") is None
    assert RefusalFilter().refusal_phrase(response, "Write an apology.") is None
    assert RefusalFilter().refusal_phrase("I cannot.", "Write an apology.") == "I cannot"


# --- the child-server helper ------------------------------------------------------------------


def test_the_local_and_the_fake_server_share_one_helper() -> None:
    assert issubclass(LocalServerProcess, ChildServer)
    assert issubclass(FakeServerProcess, ChildServer)
    for cls in (LocalServerProcess, FakeServerProcess):
        assert cls.start is ChildServer.start and cls.stop is ChildServer.stop


@pytest.mark.slow
def test_a_fake_server_that_cannot_start_reports_its_error() -> None:
    # A share above 1 is refused by the child, which says so on stderr and exits 2.
    server = FakeServerProcess(["--rate-500", "2"], python=sys.executable)
    with pytest.raises(ServerError, match=r"fake server exited with status 2.*server log: error"):
        server.start()
    assert server.address is None
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.pid


# --- duplicates -------------------------------------------------------------------------------


def _child(text: str, parent: Instruction = PARENT) -> Instruction:
    return parent.derive(text).evolved_from(parent, "depth.deepen", 1)


def test_dedupe_drops_repeats_of_earlier_rounds_and_of_this_round() -> None:
    dedupe = Dedupe()
    earlier = _child("Explain why copper, not aluminium, is used in household wiring.")
    dedupe.remember(earlier)
    drop = dedupe.repeat(earlier, PARENT.id)
    assert drop is not None and (drop.stage, drop.filter, drop.reason) == (
        "dedupe",
        "engine",
        "duplicate",
    )
    fresh = _child("Compare copper and silver as conductors for household wiring.")
    assert dedupe.repeat(fresh, PARENT.id) is None
    assert dedupe.admit(fresh, PARENT.id) is None  # kept: now seen this round
    again = dedupe.admit(fresh, PARENT.id)
    assert again is not None and again.reason == "duplicate"
    dedupe.close_round()
    assert fresh.id in dedupe.seen_before and not dedupe.seen_now


def test_dedupe_applies_the_pool_rules_after_the_exact_check() -> None:
    dedupe = Dedupe([NearDuplicateFilter()])
    other = Instruction(
        text="Explain how a heat pump moves heat from cold outdoor air into a warm home."
    )
    dedupe.remember(other)
    near = _child("Explain how a heat pump moves heat from cold outdoor air into a warm house.")
    drop = dedupe.admit(near, PARENT.id)
    assert drop is not None
    assert (drop.stage, drop.filter, drop.reason) == ("dedupe", "near_duplicate", "near_duplicate")
    assert drop.metadata == {"duplicate_of": other.id}
