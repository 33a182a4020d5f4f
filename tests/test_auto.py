"""Auto Evol-Instruct with a scripted fake: each stage of an optimisation step, the method file,
``evolve --method``, the math plugin's failure rules, and resuming a killed optimisation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evolkit import evolve
from evolkit._markers import INSTRUCTION_TAG, JUDGE_TAGS, between
from evolkit._plugins import Plugins
from evolkit._types import ChatMessage
from evolkit.auto import INITIAL_METHOD, Method, MethodPlugin, optimize, read_trajectory
from evolkit.auto import _prompts as prompts
from evolkit.errors import ConfigError
from evolkit.testing import FakeBackend

SEEDS = [
    "Explain why the sky is blue.",
    "Write a haiku about autumn rain.",
    "List three uses of a paperclip.",
    "Describe how a bicycle gear works.",
]
DEV = [
    "Summarise the water cycle for a child.",
    "Plan a picnic for six people.",
    "Compare cats and dogs as pets.",
    "Give two tips for better sleep.",
]
LABELS = {1: "ALPHA", 2: "BETA", 3: "GAMMA"}
FEEDBACK = "- the rewrites got no harder\nThe method should add a real constraint."


class Script:
    """The optimizer and the evolver, scripted.

    Candidate ``draft k`` is method ``LABELS[k]``. Under ALPHA the evolver replies with nothing
    (a parse failure); under BETA it adds a constraint; under GAMMA it adds one that the
    responder refuses (a refusal-filter drop). The initial method behaves like BETA.
    """

    def __init__(self) -> None:
        self.analyses: list[str] = []
        self.rewrites: list[str] = []

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        system, user = messages[0]["content"], messages[-1]["content"]
        if system == prompts.ANALYSE_SYSTEM:
            self.analyses.append(user)
            return FEEDBACK
        if system == prompts.REWRITE_METHOD_SYSTEM:
            self.rewrites.append(user)
            draft = int(re.search(r"draft (\d+) of", user).group(1))  # type: ignore[union-attr]
            label = LABELS[draft]
            return (
                f"<method>Method {label}. List ways to make the instruction more complex, plan, "
                "rewrite it adding 10 to 20 words, review it, then give only the final "
                "instruction.</method>"
            )
        if "<rewrite>" in user:
            original = between(INSTRUCTION_TAG, user) or ""
            if "Method ALPHA" in user:
                return ""
            if "Method GAMMA" in user:
                return f"<rewrite>{original} Use a secret source (gamma).</rewrite>"
            return f"<rewrite>{original} Give one concrete example with numbers.</rewrite>"
        if all(f"<{tag}>" in user for tag in JUDGE_TAGS):
            return "Not Equal"
        solution = re.match(r"\(Solution (\d+) of", user)
        if solution:
            return f"Work. The answer is: {solution.group(1) if '(delta)' in user else 42}"
        if "(gamma)" in user:
            return "I'm sorry, I cannot help with that."
        return f"A full answer to the question, with an example of 12 and steps: {user[:60]}"


def _optimize(tmp_path: Path, script: Script, **options: object) -> object:
    settings: dict[str, object] = {
        "steps": 2,
        "candidates": 3,
        "batch_size": 2,
        "trajectory_rounds": 2,
        "seed": 5,
    }
    settings.update(options)
    return optimize(
        SEEDS, DEV, output=tmp_path / "method.toml", backend=FakeBackend(script), **settings
    )


def test_trajectories_are_analysed_and_feed_every_candidate(tmp_path: Path) -> None:
    script = Script()
    _optimize(tmp_path, script)
    assert len(script.analyses) == 2  # one analysis per step
    first = script.analyses[0]
    shown = [s for s in SEEDS if f"Original: {s}" in first]
    assert len(shown) == 2  # the mini-batch, not the whole seed set
    assert all(s not in first for s in DEV)
    assert "Rewrite 1:" in first and "Rewrite 2:" in first and "Response 1:" in first
    assert INITIAL_METHOD.splitlines()[0] in first
    # step 2 analyses trajectories of the method chosen at step 1
    assert "Method BETA" in script.analyses[1]
    assert all(FEEDBACK in r for r in script.rewrites)


def test_m_candidates_are_made_in_each_step(tmp_path: Path) -> None:
    script = Script()
    method = _optimize(tmp_path, script).method  # type: ignore[attr-defined]
    assert len(script.rewrites) == 6
    drafts = sorted(re.search(r"draft (\d) of 3", r).group(1) for r in script.rewrites)  # type: ignore[union-attr]
    assert drafts == ["1", "1", "2", "2", "3", "3"]
    assert [len(s.candidates) for s in method.steps] == [1, 3, 3]


def test_the_lowest_dev_failure_rate_is_chosen(tmp_path: Path) -> None:
    result = _optimize(tmp_path, Script())
    method = result.method  # type: ignore[attr-defined]
    assert "Method BETA" in method.prompt and method.version == 2
    step1 = method.steps[1]
    assert [c.failure_rate for c in step1.candidates] == [1.0, 0.0, 1.0]
    assert step1.chosen == 1
    assert step1.candidates[0].reasons == {"empty_rewrite": len(DEV)}
    # GAMMA's rewrites parse; the eliminator's refusal filter drops them on the response
    assert sum(step1.candidates[2].reasons.values()) == len(DEV)
    assert "empty_rewrite" not in step1.candidates[2].reasons
    assert result.failure_rates == [0.0, 0.0, 0.0]  # type: ignore[attr-defined]


def test_the_method_file_round_trips_and_the_trajectory_is_written(tmp_path: Path) -> None:
    method = _optimize(tmp_path, Script()).method  # type: ignore[attr-defined]
    loaded = Method.load(tmp_path / "method.toml")
    assert loaded == method
    assert loaded.fitted.evolver_model == "fake/model" and len(loaded.fitted.dev) == 64
    trajectory = read_trajectory(tmp_path / "method.toml.trajectory.json")
    assert [s["chosen"] for s in trajectory["steps"]] == [0, 1, 1]
    assert "+Method BETA" in trajectory["steps"][1]["diff"]
    assert trajectory["steps"][2]["diff"] == ""  # BETA again: no change


def test_same_seed_and_models_give_the_same_method_file(tmp_path: Path) -> None:
    _optimize(tmp_path / "a", Script())
    _optimize(tmp_path / "b", Script())
    a = (tmp_path / "a" / "method.toml").read_bytes()
    assert a == (tmp_path / "b" / "method.toml").read_bytes()


def test_evolve_runs_the_method_as_an_operator(tmp_path: Path) -> None:
    method = Method(prompt="Method BETA. Make the instruction harder by one real constraint.")
    plugins = Plugins.load(entry_points=False)
    plugins.register(MethodPlugin(method), name="m")
    backend = FakeBackend(Script())
    result = evolve(DEV, rounds=1, backend=backend, plugins=plugins, operators=["method.auto"])
    evolved = [row for row in result if row.round == 1]
    assert len(evolved) == len(DEV)
    assert {row.operator for row in evolved} == {"method.auto"}
    mutate = [m for m, _ in backend.calls if "<rewrite>" in m[-1]["content"]]
    assert len(mutate) == len(DEV)
    assert all("Method BETA" in m[-1]["content"] for m in mutate)


def test_evolve_command_takes_a_method_file(tmp_path: Path) -> None:
    from evolkit.cli import main

    path = Method(prompt=INITIAL_METHOD, name="fitted").save(tmp_path / "m.toml")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(DEV) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["evolve", str(seeds), "-o", str(out), "--method", str(path), "--model", "fake/x"]
    assert main([*argv, "--rounds", "1", "--cache", "off", "-q"]) == 0
    from evolkit.io import read_instructions

    operators = {row.operator for row in read_instructions(out) if row.round == 1}
    assert operators == {"method.fitted"}


def test_a_bad_method_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('format = "evolkit-method"\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="missing 'prompt'"):
        Method.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        Method.load(tmp_path / "absent.toml")


def test_math_failure_rules_judge_the_candidates(tmp_path: Path) -> None:
    class MathScript(Script):
        def __call__(self, messages: Sequence[ChatMessage]) -> str:
            user = messages[-1]["content"]
            if "<rewrite>" in user and "Method BETA" in user:
                original = between(INSTRUCTION_TAG, user) or ""
                return f"<rewrite>{original} Add a step (delta).</rewrite>"
            return super().__call__(messages)

    filters = ["template_leak", "refusal", "math.self_consistency"]
    method = _optimize(tmp_path, MathScript(), steps=1, filters=filters).method  # type: ignore[attr-defined]
    step1 = method.steps[1]
    # BETA's problems have no consistent answer under self-consistency: all fail
    assert step1.candidates[1].reasons == {"no_majority": len(DEV)}
    assert [c.failure_rate for c in step1.candidates] == [1.0, 1.0, 1.0]
    assert method.fitted.settings["filters"] == filters


def test_changed_settings_are_refused_and_dev_must_be_held_out(tmp_path: Path) -> None:
    _optimize(tmp_path, Script(), steps=1)
    with pytest.raises(ConfigError, match=r"different settings.*settings\.candidates"):
        _optimize(tmp_path, Script(), steps=1, candidates=2)
    with pytest.raises(ConfigError, match="held out"):
        optimize(SEEDS, [*DEV, SEEDS[0]], backend=FakeBackend(Script()), steps=1)


def test_optimize_command_prints_the_trajectory_and_report_plots_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolkit.cli import main

    (tmp_path / "seeds.txt").write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    (tmp_path / "dev.txt").write_text("\n".join(DEV) + "\n", encoding="utf-8")
    out = tmp_path / "m.toml"
    argv = ["optimize", str(tmp_path / "seeds.txt"), "--dev", str(tmp_path / "dev.txt")]
    argv += ["-o", str(out), "--model", "fake/x", "--steps", "2", "--candidates", "2"]
    assert main([*argv, "--batch-size", "2", "--cache", "off", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "dev failure rate per step and candidate" in printed
    assert "method change at step 1:" in printed and "+++ step 1" in printed
    assert Method.load(out).version == 2
    pytest.importorskip("matplotlib")
    assert main(["report", str(out)]) == 0
    page = (tmp_path / "m.report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1
    assert "dev failure rate per candidate" in page and "<b>0.000</b>" in page


def test_without_a_usable_candidate_the_current_method_stays(tmp_path: Path) -> None:
    class Mute(Script):
        def __call__(self, messages: Sequence[ChatMessage]) -> str:
            if messages[0]["content"] == prompts.REWRITE_METHOD_SYSTEM:
                return "ok"  # no method in the reply
            return super().__call__(messages)

    result = _optimize(tmp_path, Mute(), steps=1, candidates=2)
    method = result.method  # type: ignore[attr-defined]
    assert method.prompt == INITIAL_METHOD
    step1 = method.steps[1]
    assert [c.reasons for c in step1.candidates[:2]] == [{"no_method": len(DEV)}] * 2
    assert step1.chosen == 2 and step1.best == method.steps[0].best


def test_code_failure_rules_judge_the_candidates(tmp_path: Path) -> None:
    class CodeScript(Script):
        def __call__(self, messages: Sequence[ChatMessage]) -> str:
            user = messages[-1]["content"]
            if "<rewrite>" in user and "Method ALPHA" in user:
                original = between(INSTRUCTION_TAG, user) or ""
                return f"<rewrite>{original} Write it as a Python function (broken).</rewrite>"
            if "(broken)" in user and "<rewrite>" not in user:
                return "Here it is:\n```python\ndef answer(:\n    return 1\n```"
            return super().__call__(messages)

    filters = ["template_leak", "refusal", "code.python_parses"]
    method = _optimize(tmp_path, CodeScript(), steps=1, filters=filters).method  # type: ignore[attr-defined]
    step1 = method.steps[1]
    assert step1.candidates[0].reasons == {"python_syntax_error": len(DEV)}
    assert step1.chosen == 1 and "Method BETA" in method.prompt


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.text(min_size=1).map(lambda t: f"Make it harder in five words. {t}"),
    rates=st.lists(st.integers(0, 9), min_size=1, max_size=4),
)
@example(prompt="Make it harder in five words. \r\n0", rates=[0])  # TOML reads CRLF as LF
def test_any_method_file_round_trips(prompt: str, rates: list[int]) -> None:
    from evolkit.auto import CandidateScore, Fitted, StepRecord

    scores = tuple(
        CandidateScore(method_id=f"{i:016x}", failures=r, total=9, reasons={"refusal": r})
        for i, r in enumerate(rates)
    )
    method = Method(
        prompt=prompt,
        name="x.y-1",
        version=len(rates),
        fitted=Fitted(evolver_model="m", seeds="s", settings={"steps": 2, "filters": ["a"]}),
        steps=(StepRecord(step=1, candidates=scores, chosen=rates.index(min(rates))),),
    )
    assert Method.loads(method.dumps()) == method
