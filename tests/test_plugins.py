from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import ClassVar

import attrs
import pytest

import evolkit
from evolkit import Instruction, Rejected, Verdict, hookimpl
from evolkit._markers import REWRITE_TAG, between
from evolkit._plugins import Plugins
from evolkit.errors import DuplicateNameError, UnknownNameError
from evolkit.plugins import FilterRegistry, MutatorRegistry
from evolkit.testing import FakeBackend, run_mutator

BUILTIN_OPERATORS = {
    "depth.add_constraints",
    "depth.deepen",
    "depth.concretize",
    "depth.increase_reasoning",
    "depth.complicate_input",
    "breadth.mutate",
}


class Shout:
    """A toy operator: asks for the instruction in capitals."""

    name = "test.shout"
    kind = "test"

    def applies_to(self, instruction: Instruction) -> bool:
        return True

    def build_messages(
        self, instruction: Instruction, rng: random.Random
    ) -> list[evolkit.ChatMessage]:
        return [
            {
                "role": "user",
                "content": f"Shout: <instruction>{instruction.text}</instruction> "
                f"Reply in <{REWRITE_TAG}> tags.",
            }
        ]

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        text = between(REWRITE_TAG, reply) or ""
        return parent.derive(text.upper()) if text else Rejected("empty_rewrite")


class ShoutPlugin:
    @hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(Shout(), default=False)


class NoQuestionMarks:
    name = "test.no_question_marks"
    needs_response = False

    async def judge(
        self, candidate: Instruction, parent: Instruction, backend: evolkit.Backend
    ) -> Verdict:
        if "?" in candidate.text:
            return Verdict.dropped(self.name, "question_mark")
        return Verdict.kept(self.name)


class FilterPlugin:
    @hookimpl
    def evolkit_register_filters(self, registry: FilterRegistry) -> None:
        registry.add(NoQuestionMarks())


def test_builtins_register_through_hooks() -> None:
    plugins = Plugins.load(entry_points=False)
    assert set(plugins.mutators().names()) >= BUILTIN_OPERATORS
    assert {"information_gain", "refusal", "stopwords", "template_leak"} <= set(
        plugins.filters().names()
    )
    assert {"litellm", "fake"} <= set(plugins.backends().names())
    assert {i.name for i in plugins.info()} >= {"evolkit.operators", "evolkit.filters"}
    for entry in plugins.mutators().entries():
        if entry.name in BUILTIN_OPERATORS:
            assert entry.package == "evolkit"


def test_plugin_operator_is_used_by_engine(evolkit_plugin: Callable[..., str]) -> None:
    evolkit_plugin(ShoutPlugin(), name="shout")
    result = evolkit.evolve(
        ["make tea", "paint a fence"],
        rounds=2,
        backend=FakeBackend.default(),
        operators=["test.shout"],
        filters=[],
    )
    evolved = [r for r in result if not r.is_seed]
    assert evolved and all(r.operator == "test.shout" for r in evolved)
    assert any(r.text.startswith("MAKE TEA ") for r in evolved)


def test_plugin_registered_for_one_test_is_gone_after() -> None:
    assert "test.shout" not in evolkit._plugins.default_plugins().mutators()


def test_plugin_filter_runs(evolkit_plugin: Callable[..., str]) -> None:
    evolkit_plugin(FilterPlugin(), name="qm")

    def reply(messages: list[evolkit.ChatMessage]) -> str:
        text = messages[-1]["content"]
        if f"<{REWRITE_TAG}>" in text:
            return f"<{REWRITE_TAG}>Why is that?</{REWRITE_TAG}>"
        return "An answer that is long enough to pass every rule of the eliminator easily here."

    result = evolkit.evolve(
        ["make tea"],
        rounds=1,
        backend=FakeBackend(reply),
        operators=["test.shout"] if False else None,
        filters=["test.no_question_marks"],
        respond=False,
    )
    assert result.stats.drop_reasons == {"question_mark": 1}
    assert [d.filter for d in result.iter_drops()] == ["test.no_question_marks"]


def test_duplicate_name_is_refused(evolkit_plugin: Callable[..., str]) -> None:
    evolkit_plugin(ShoutPlugin(), name="shout-1")
    evolkit_plugin(ShoutPlugin(), name="shout-2")
    twice = r"test\.shout.*registered twice.*shout-1.*shout-2"
    with pytest.raises(DuplicateNameError, match=twice):
        evolkit._plugins.default_plugins().mutators()


def test_duplicate_of_builtin_is_refused() -> None:
    class Clash:
        @hookimpl
        def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
            registry.add(type("D", (Shout,), {"name": "depth.deepen"})())

    plugins = Plugins.load(entry_points=False)
    plugins.register(Clash(), name="clash")
    with pytest.raises(DuplicateNameError, match=r"depth\.deepen"):
        plugins.mutators()


def test_disable_env_removes_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLKIT_DISABLE_PLUGINS", "evolkit.filters, something-else")
    plugins = Plugins.load()
    assert "refusal" not in plugins.filters()
    assert set(plugins.mutators().names()) >= BUILTIN_OPERATORS


def test_unknown_operator_suggests() -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean depth\.deepen"):
        evolkit.evolve(["x y"], rounds=1, backend=FakeBackend.default(), operators=["depth.deepn"])


def test_registry_rejects_non_mutator() -> None:
    with pytest.raises(TypeError, match="does not implement"):
        MutatorRegistry().add(object())  # type: ignore[arg-type]


def test_run_mutator_helper() -> None:
    child = run_mutator(Shout(), "boil an egg")
    assert isinstance(child, Instruction)
    assert (
        child.text.startswith("BOIL AN EGG ")
        and child.operator == "test.shout"
        and child.round == 1
    )


def test_verdict_metadata_is_merged_into_kept_instruction(
    evolkit_plugin: Callable[..., str],
) -> None:
    class Tagger:
        name = "test.tagger"
        needs_response = True

        async def judge(
            self, candidate: Instruction, parent: Instruction, backend: evolkit.Backend
        ) -> Verdict:
            return Verdict.kept(self.name, metadata={"answer": "42", "votes": 3})

    class TaggerPlugin:
        @hookimpl
        def evolkit_register_filters(self, registry: FilterRegistry) -> None:
            registry.add(Tagger(), default=False)

    evolkit_plugin(TaggerPlugin(), name="tagger")
    result = evolkit.evolve(
        ["make tea"], rounds=1, backend=FakeBackend.default(), filters=["test.tagger"]
    )
    evolved = [r for r in result if not r.is_seed]
    assert evolved and evolved[0].metadata == {"answer": "42", "votes": 3}


def test_respond_system_prompt_is_sent() -> None:
    backend = FakeBackend.default()
    evolkit.evolve(
        ["make tea"], rounds=1, backend=backend, respond_system="End with 'The answer is: N'."
    )
    systems = [m[0]["content"] for m, _ in backend.calls if m[0]["role"] == "system"]
    assert "End with 'The answer is: N'." in systems


def test_public_plugins_module() -> None:
    from evolkit import plugins

    assert plugins.MutatorRegistry is MutatorRegistry and plugins.default_plugins()


def test_a_third_party_filter_joins_default_runs_only_when_it_opts_in(
    evolkit_plugin: Callable[..., str],
) -> None:
    class OptIn:
        @hookimpl
        def evolkit_register_filters(self, registry: FilterRegistry) -> None:
            registry.add(NoQuestionMarks(), default=True)

    evolkit_plugin(FilterPlugin(), name="forgets")
    filters = evolkit._plugins.default_plugins().filters()
    assert filters.entry("test.no_question_marks").package == "test"
    assert "test.no_question_marks" not in filters.defaults()
    assert filters.defaults() and {filters.entry(n).package for n in filters.defaults()} == {
        "evolkit"
    }
    evolkit._plugins.default_plugins().unregister(name="forgets")
    evolkit_plugin(OptIn(), name="opts-in")
    assert "test.no_question_marks" in evolkit._plugins.default_plugins().filters().defaults()


def test_hooks_are_called_through_pluggy_with_wrappers_and_ordering(
    evolkit_plugin: Callable[..., str],
) -> None:
    calls: list[str] = []

    class Early:
        @hookimpl(tryfirst=True)
        def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
            calls.append("early")
            assert "depth.deepen" not in registry  # before the built-ins

    class Around:
        @hookimpl(wrapper=True)
        def evolkit_register_mutators(self, registry: MutatorRegistry) -> Iterator[None]:
            calls.append("before")
            result = yield
            calls.append("after")
            # A wrapper sees every implementation's work and may add to it.
            if "depth.deepen" in registry:
                registry.add(Shout(), default=False)
            return result

    evolkit_plugin(Early(), name="early")
    evolkit_plugin(Around(), name="around")
    mutators = evolkit._plugins.default_plugins().mutators()
    assert calls == ["before", "early", "after"]
    assert mutators.entry("test.shout").plugin == "around"
    # Entries keep the plugins' registration order whatever order pluggy called them in.
    names = mutators.names()
    assert names.index("depth.deepen") < names.index("test.shout")
    assert mutators.entry("depth.deepen").package == "evolkit"


class Careless:
    """An operator that keeps the parent's id and response (``attrs.evolve`` of the parent) and
    makes a random choice in its prompt."""

    name = "test.careless"
    kind = "test"
    drawn: ClassVar[list[float]] = []

    def applies_to(self, instruction: Instruction) -> bool:
        return True

    def build_messages(
        self, instruction: Instruction, rng: random.Random
    ) -> list[evolkit.ChatMessage]:
        self.drawn.append(rng.random())
        return [{"role": "user", "content": f"<{REWRITE_TAG}> {instruction.text}"}]

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        return attrs.evolve(parent, text=parent.text + " Show your work.")


class CarelessPlugin:
    @hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(Careless(), default=False)


def test_run_mutator_behaves_like_the_engine(evolkit_plugin: Callable[..., str]) -> None:
    evolkit_plugin(CarelessPlugin(), name="careless")
    seed = Instruction(text="Add 2 and 3.", response="5")
    Careless.drawn.clear()
    result = evolkit.evolve(
        [seed], rounds=1, seed=7, operators=["test.careless"], backend=FakeBackend.default(),
        respond=False, filters=[],
    )  # fmt: skip
    [engine_child] = [row for row in result if row.round == 1]
    engine_draw = Careless.drawn[-1]
    child = run_mutator(Careless(), seed, seed=7, round=1)
    assert isinstance(child, Instruction)
    assert Careless.drawn[-1] == engine_draw  # the same random generator, in the same state
    assert child.to_record() == engine_child.to_record()
    assert child.id != seed.id and child.response is None and child.parent_id == seed.id
