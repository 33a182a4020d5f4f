"""Tests for evolkit-audience with evolkit's test kit: no model, no network."""

import random

import pytest

import evolkit
from evolkit import Instruction, Rejected
from evolkit.testing import FakeBackend, run_filter, run_mutator
from evolkit_audience import plugin
from evolkit_audience.filters import WordLimit
from evolkit_audience.operators import AUDIENCE


@pytest.fixture
def audience_plugin(evolkit_plugins, evolkit_plugin):
    """The plugin, registered once.

    An installed package is loaded through its entry point already; a checkout that is not
    installed gets the plugin registered for this one test.
    """
    if "audience.rewrite" not in evolkit_plugins.mutators():
        evolkit_plugin(plugin, name="audience")


def test_the_prompt_names_an_audience():
    instruction = Instruction(text="Explain how tides work.")
    prompt = AUDIENCE.build_messages(instruction, random.Random(1))[-1]["content"]
    assert "Explain how tides work." in prompt
    assert sum(audience in prompt for audience in AUDIENCE.variants) == 1


def test_the_rewrite_is_read_back():
    backend = FakeBackend(
        replies=["<rewrite>Explain how tides work to a curious ten-year-old.</rewrite>"]
    )
    child = run_mutator(AUDIENCE, "Explain how tides work.", backend)
    assert child.text == "Explain how tides work to a curious ten-year-old."
    assert child.operator == "audience.rewrite"


def test_a_refusal_is_rejected():
    backend = FakeBackend(replies=["I'm sorry, I can't rewrite that."])
    assert run_mutator(AUDIENCE, "Explain how tides work.", backend) == Rejected("refused")


def test_the_word_limit():
    limit = WordLimit(max_words=5)
    short = run_filter(limit, "Explain tides.", response="The Moon pulls the sea.")
    long = run_filter(limit, "Explain tides.", response="The Moon pulls the sea towards it.")
    assert short.keep
    assert not long.keep
    assert long.reason == "too_long"


def test_a_run_uses_the_operator(audience_plugin, fake_backend):
    result = evolkit.evolve(
        ["Explain how tides work.", "Describe how a volcano erupts."],
        rounds=2,
        operators=["audience.rewrite"],
        filters=["audience.word_limit"],
        backend=fake_backend,
    )
    evolved = [row for row in result.rows if row.operator is not None]
    assert evolved
    assert {row.operator for row in evolved} == {"audience.rewrite"}
