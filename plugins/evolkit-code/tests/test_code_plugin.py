"""The plugin through evolkit: registration (entry point or test-only) and runs that use it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import evolkit
import pytest
from evolkit._plugins import Plugins
from evolkit.testing import FakeBackend, default_reply

from evolkit_code import plugin

SEEDS = [
    "Write a Python function that counts the vowels in a string.",
    "Write a SQL query that lists customers with more than three orders.",
    "Implement a stack with push, pop and peek in JavaScript.",
    "Write a Python script that prints the first ten Fibonacci numbers.",
]
NAMES = {
    "code.add_constraint",
    "code.rarer_requirement",
    "code.more_reasoning",
    "code.misdirection",
    "code.complexity",
}


@pytest.fixture
def code_plugin(evolkit_plugins: Plugins, evolkit_plugin: Callable[..., str]) -> None:
    """The plugin, registered once: installed packages are loaded through their entry point;
    a source tree that is not installed gets it registered for this test only."""
    if "code.add_constraint" not in evolkit_plugins.mutators():
        evolkit_plugin(plugin, name="code")


def test_registry_entries(evolkit_plugins: Plugins, code_plugin: None) -> None:
    mutators = evolkit_plugins.mutators()
    assert set(mutators.kinds()["code"]) == NAMES
    for name in NAMES:
        assert mutators.entry(name).default is False
    assert not NAMES & set(mutators.defaults())
    entry = evolkit_plugins.filters().entry("code.python_parses")
    assert entry.default is False


def test_installed_entry_point_names_the_package() -> None:
    from importlib import metadata

    try:
        dist = metadata.distribution("evolkit-code")
    except metadata.PackageNotFoundError:
        pytest.skip("evolkit-code is not installed (pip install -e plugins/evolkit-code)")
    eps = [ep for ep in dist.entry_points if ep.group == "evolkit"]
    assert [(ep.name, ep.value) for ep in eps] == [("code", "evolkit_code.plugin")]
    assert Plugins.load().mutators().entry("code.complexity").package == "evolkit-code"


def test_a_run_selects_the_code_operators_by_kind(code_plugin: None) -> None:
    result = evolkit.evolve(SEEDS * 1, rounds=3, operators="code", backend=FakeBackend.default())
    used = {row.operator for row in result.rows if row.operator is not None}
    assert used and used <= NAMES
    assert set(result.stats.attempted_per_operator) <= NAMES
    # The default fake adds prose, never code: every misdirection rewrite is rejected.
    assert "code.misdirection" not in used
    assert result.stats.attempted_per_operator.get("code.misdirection", 0) > 0
    assert result.stats.drop_reasons.get("no_code_snippet", 0) > 0


def test_a_run_with_the_python_filter(code_plugin: None) -> None:
    def model(messages: Sequence[evolkit.ChatMessage]) -> str:
        user = messages[-1]["content"]
        if "<rewrite>" in user:
            return default_reply(messages)
        if "vowels" in user:
            return "```python\ndef count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n```"
        return "```python\ndef fib(n)\n    pass\n```"  # a syntax error

    result = evolkit.evolve(
        [SEEDS[0], SEEDS[3]],
        rounds=1,
        operators=["code.add_constraint"],
        filters=["code.python_parses"],
        backend=FakeBackend(model),
    )
    evolved = [row for row in result.rows if row.operator == "code.add_constraint"]
    assert len(evolved) == 1 and "vowels" in evolved[0].text
    assert dict(result.stats.drop_reasons) == {"python_syntax_error": 1}
