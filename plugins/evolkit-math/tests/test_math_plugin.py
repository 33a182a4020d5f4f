"""The plugin through evolkit: registration (entry point or test-only) and a run that uses it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import evolkit
import pytest
from evolkit._plugins import Plugins
from evolkit.testing import FakeBackend, default_reply

from evolkit_math import plugin

SEEDS = [
    "Tom has 5 apples and buys 7 more. How many apples does he have?",
    "A train travels 60 km in 1.5 hours. What is its average speed in km per hour?",
    "A box holds 24 pencils. How many boxes are needed for 150 pencils?",
    "Sara reads 12 pages a day. How many days does she need for a 96-page book?",
    "Write a short poem about the sea.",
]


@pytest.fixture
def math_plugin(evolkit_plugins: Plugins, evolkit_plugin: Callable[..., str]) -> None:
    """The plugin, registered once: installed packages are loaded through their entry point;
    a source tree that is not installed gets it registered for this test only."""
    if "math.upward" not in evolkit_plugins.mutators():
        evolkit_plugin(plugin, name="math")


def test_registry_entries(evolkit_plugins: Plugins, math_plugin: None) -> None:
    mutators = evolkit_plugins.mutators()
    for name in ("math.upward", "math.downward"):
        entry = mutators.entry(name)
        assert entry.item.kind == "math"
        assert entry.default is False
    assert set(mutators.kinds()["math"]) == {"math.upward", "math.downward"}
    assert "math.upward" not in mutators.defaults()
    filters = evolkit_plugins.filters()
    for name in ("math.final_answer", "math.self_consistency"):
        assert filters.entry(name).default is False
    assert "math.final_answer" not in filters.defaults()


def test_installed_entry_point_names_the_package() -> None:
    from importlib import metadata

    try:
        dist = metadata.distribution("evolkit-math")
    except metadata.PackageNotFoundError:
        pytest.skip("evolkit-math is not installed (pip install -e plugins/evolkit-math)")
    eps = [ep for ep in dist.entry_points if ep.group == "evolkit"]
    assert [(ep.name, ep.value) for ep in eps] == [("math", "evolkit_math.plugin")]
    loaded = Plugins.load()
    assert loaded.mutators().entry("math.upward").package == "evolkit-math"


def test_a_run_uses_the_math_operators(math_plugin: None) -> None:
    backend = FakeBackend.default()
    result = evolkit.evolve(
        SEEDS, rounds=2, operators=["math.upward", "math.downward"], backend=backend, seed=3
    )
    evolved = [row for row in result.rows if row.operator is not None]
    assert evolved
    assert {row.operator for row in evolved} == {"math.upward", "math.downward"}
    # The poem has no quantity: no math operator applies to it, so it never evolves.
    poem = next(row for row in result.rows if row.text == SEEDS[-1])
    assert all(row.parent_id != poem.id for row in result.rows)
    prompts = [messages[-1]["content"] for messages, _ in backend.calls]
    assert any("harder version of the math problem" in p for p in prompts)
    assert any("easier math problem of the same kind" in p for p in prompts)


def test_a_run_with_the_final_answer_filter(math_plugin: None) -> None:
    def model(messages: Sequence[evolkit.ChatMessage]) -> str:
        user = messages[-1]["content"]
        if "<rewrite>" in user or "apples" not in user:
            return default_reply(messages)
        return "Counting step by step.\nThe answer is: 12"  # only apple problems are solved

    result = evolkit.evolve(
        SEEDS[:2],
        rounds=1,
        operators="math.upward",
        filters=["math.final_answer"],
        backend=FakeBackend(model),
    )
    evolved = [row for row in result.rows if row.operator == "math.upward"]
    assert len(evolved) == 1 and "apples" in evolved[0].text
    assert evolved[0].response is not None
    assert evolved[0].response.endswith("The answer is: 12")
    assert dict(result.stats.kept_per_operator) == {"math.upward": 1}
    assert dict(result.stats.drop_reasons) == {"no_final_answer": 1}
    assert [(d.filter, d.reason) for d in result.iter_drops()] == [
        ("math.final_answer", "no_final_answer")
    ]
