"""The whole evaluation path with a scripted model behind the litellm-style backend."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evolkit import ChatMessage
from evolkit.errors import ConfigError, ModelError
from evolkit.evaluate import (
    BackendGenerator,
    GSM8KResult,
    Prompt,
    SamplingConfig,
    evaluate_gsm8k,
    get_style,
    wilson_interval,
)
from evolkit.testing import FakeBackend

QUESTIONS = [
    ("Mia packs 4 boxes with 12 pencils each. How many pencils does she pack?", 48),
    ("A train travels 60 miles an hour for 3 hours. How far does it go?", 180),
    ("Leo had 1,000 stamps and gave away 250. How many are left?", 750),
]


def write_questions(path: Path) -> Path:
    lines = []
    for question, answer in QUESTIONS:
        solution = f"Work it out: <<{answer}={answer}>>{answer:,}.\n#### {answer:,}"
        lines.append(json.dumps({"question": question, "answer": solution}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scripted(replies: dict[str, str]) -> FakeBackend:
    """A fake model that answers each question with the reply whose key the prompt contains."""

    def handler(messages: Sequence[ChatMessage]) -> str:
        prompt = messages[-1]["content"]
        # The question being asked is the last one in the prompt (after any worked examples).
        return max((prompt.rfind(key), reply) for key, reply in replies.items() if key in prompt)[1]

    return FakeBackend(handler=handler, model="fake/scripted")


REPLIES = {
    # right, after the marker
    "Mia packs": "4 boxes of 12 is 4 * 12 = 48.\nThe answer is: 48",
    # right, but only as the last number
    "A train": "60 * 3 = 180, so it goes $180 miles",
    # wrong
    "Leo had": "1,000 - 250 = 650.\nThe answer is: 650",
}


def test_scripted_model_scores_exactly_two_of_three(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    result = evaluate_gsm8k(scripted(REPLIES), style="wizardmath", data=data)
    assert isinstance(result, GSM8KResult)
    assert result.n == 3
    assert result.flexible == pytest.approx(2 / 3)
    assert result.accuracy == result.flexible
    assert result.strict == pytest.approx(1 / 3)
    assert result.invalid_rate == 0
    assert result.backend == "litellm" and result.model == "fake/scripted"
    mia, train, leo = result.records
    assert (mia.extracted, mia.layer, mia.correct, mia.strict_correct) == ("48", "marker", 1, 1)
    assert (train.extracted, train.layer, train.correct, train.strict_correct) == (
        "180",
        "last_number",
        True,
        False,
    )
    assert (leo.extracted, leo.gold, leo.correct) == ("650", "750", False)
    assert mia.prompt.endswith("### Response:\nLet's think step by step.")
    assert mia.output == REPLIES["Mia packs"]
    # Standard error of 2/3 over 3 questions: sqrt(p(1-p)/(n-1)).
    assert result.stderr == pytest.approx(math.sqrt((2 / 3) * (1 / 3) / 2))
    low, high = result.ci95
    assert 0 < low < 2 / 3 < high < 1
    assert result.warnings and "1319" in result.warnings[0]


def test_invalid_outputs_count(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    replies = dict(REPLIES, **{"Leo had": "I cannot tell."})
    result = evaluate_gsm8k(scripted(replies), data=data)
    assert result.invalid_rate == pytest.approx(1 / 3)
    assert result.records[2].extracted is None and result.records[2].layer is None


@pytest.mark.parametrize("style", ["gsm8k", "gsm8k_cot", "chat"])
def test_each_style_end_to_end(tmp_path: Path, style: str) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    finals = {"gsm8k": "#### {}", "gsm8k_cot": "The answer is {}.", "chat": "The answer is {}."}
    replies = {
        "Mia packs": "4 * 12 = 48. " + finals[style].format(48),
        "A train": "60 * 3 = 180. " + finals[style].format("1,80"),  # malformed: 1 and 80
        "Leo had": "1000 - 250 = " + finals[style].format("$750"),
    }
    backend = scripted(replies)
    result = evaluate_gsm8k(backend, style=style, data=data, limit=3)
    assert [r.correct for r in result.records] == [True, False, True]
    assert result.strict == pytest.approx(2 / 3)
    assert backend.calls, "the backend was called"
    messages, params = backend.calls[0]
    assert params["max_tokens"] == 512 and params["temperature"] == 0.0
    if style == "chat":
        assert messages[0]["content"].endswith(
            get_style("chat").prompt("x").as_messages()[0]["content"][1:]
        )
        assert "stop" not in params
    else:
        assert params["stop"] == list(get_style(style).stop)
        assert messages[0]["content"].count("Q") >= 5  # the worked examples are in the prompt
    harness = [r.harness_strict for r in result.records]
    if style in {"gsm8k", "gsm8k_cot"}:
        # The harness compares strings with commas removed, so '1,80' counts as 180; '$750'
        # does not match its strict pattern at all.
        assert harness == [True, True, False]
    else:
        assert harness == [None, None, None]


def test_records_jsonl_and_summary(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    out = tmp_path / "out" / "records.jsonl"
    result = evaluate_gsm8k(scripted(REPLIES), data=data, output=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3
    assert set(rows[0]) >= {
        "index",
        "question",
        "prompt",
        "output",
        "extracted",
        "gold",
        "correct",
        "strict_correct",
        "layer",
    }
    assert [row["correct"] for row in rows] == [True, True, False]
    assert [row["layer"] for row in rows] == ["marker", "last_number", "marker"]
    summary = result.summary()
    assert summary["flexible"] == pytest.approx(2 / 3) and summary["n"] == 3
    json.dumps(summary)
    html = result._repr_html_()
    assert "accuracy (flexible)" in html and "66.67%" in html
    assert "GSM8KResult(" in repr(result)


def test_rich_rendering(tmp_path: Path) -> None:
    from rich.console import Console

    data = write_questions(tmp_path / "test.jsonl")
    result = evaluate_gsm8k(scripted(REPLIES), data=data)
    console = Console(record=True, width=120)
    console.print(result)
    text = console.export_text()
    assert "accuracy (strict)" in text and "33.33%" in text


def test_majority_vote_over_samples(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    answers: dict[str, list[str]] = {
        "Mia packs": ["The answer is: 47", "The answer is: 48", "so 48 in all"],
        "A train": ["The answer is: 170", "The answer is: 170", "The answer is: 180"],
        "Leo had": ["The answer is: 750", "no idea", "The answer is: 750"],
    }
    seen: dict[str, int] = defaultdict(int)

    def handler(messages: Sequence[ChatMessage]) -> str:
        key = next(k for k in answers if k in messages[-1]["content"])
        reply = answers[key][seen[key] % 3]
        seen[key] += 1
        return reply

    backend = FakeBackend(handler=handler)
    result = evaluate_gsm8k(backend, data=data, samples=3, seed=1)
    assert len(backend.calls) == 9
    assert all(params["temperature"] == 0.7 for _, params in backend.calls)
    mia, train, leo = result.records
    assert mia.votes == {"47": 1, "48": 2} and mia.correct and not mia.strict_correct
    assert train.extracted == "170" and not train.correct
    assert leo.correct and leo.strict_correct and leo.votes == {"750": 2}
    assert result.flexible == pytest.approx(2 / 3)
    assert mia.to_json()["outputs"] == answers["Mia packs"]
    assert mia.harness_flexible is None


def test_samples_need_a_temperature(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="temperature"):
        evaluate_gsm8k(
            FakeBackend.default(),
            data=write_questions(tmp_path / "t.jsonl"),
            samples=3,
            temperature=0.0,
        )


def test_failed_calls_are_recorded_after_retries(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    replies: list[Any] = [
        "The answer is: 48",
        ModelError("bad request", kind="bad_request", retryable=False),
        "The answer is: 750",
    ]
    backend = FakeBackend(replies=replies)
    generator = BackendGenerator(backend, concurrency=1)
    result = evaluate_gsm8k(data=data, generator=generator)
    assert result.errors == 1
    assert result.records[1].errors == ("bad request",)
    assert result.records[1].invalid
    assert result.flexible == pytest.approx(2 / 3)


def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    class Slow:
        model = "slow"

        async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            from evolkit import Completion

            return Completion(text="The answer is: 1")

    generator = BackendGenerator(Slow(), concurrency=3)
    prompts = [Prompt(text=f"q{i}") for i in range(12)]
    generations = generator.generate(prompts, SamplingConfig(samples=2, temperature=0.5))
    assert len(generations) == 12 and all(len(g.outputs) == 2 for g in generations)
    assert peak == 3


def test_generate_inside_a_running_event_loop() -> None:
    async def main() -> list[Any]:
        generator = BackendGenerator(FakeBackend(handler=lambda m: "7"))
        return generator.generate([Prompt(text="q")], SamplingConfig())

    generations = asyncio.run(main())
    assert generations[0].outputs == ("7",)


def test_model_string_resolves_through_the_backend_registry(tmp_path: Path) -> None:
    result = evaluate_gsm8k("fake/any", backend="litellm", data=write_questions(tmp_path / "t"))
    assert result.n == 3 and result.backend == "litellm"


def test_wilson_interval() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0 and 0 < high < 0.35
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_bad_arguments(tmp_path: Path) -> None:
    data = write_questions(tmp_path / "t.jsonl")
    with pytest.raises(ConfigError, match="unknown backend"):
        evaluate_gsm8k("m", backend="tgi", data=data)
    with pytest.raises(ConfigError, match="model"):
        evaluate_gsm8k(None, data=data)
    with pytest.raises(ConfigError, match="no questions"):
        evaluate_gsm8k(FakeBackend.default(), data=data, limit=0)
    with pytest.raises(ConfigError, match="max_new_tokens"):
        evaluate_gsm8k(FakeBackend.default(), data=data, max_new_tokens=0)
    with pytest.raises(ConfigError, match="litellm"):
        evaluate_gsm8k(FakeBackend.default(), backend="hf", data=data)


# ---------------------------------------------------------------------------------------------
# command line


def cli(*argv: str) -> int:
    from evolkit.cli import main

    return main(list(argv))


def test_cli_gsm8k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_questions(tmp_path / "test.jsonl")
    out = tmp_path / "records.jsonl"
    summary = tmp_path / "summary.json"
    code = cli(
        "eval",
        "gsm8k",
        "--model",
        "fake/x",
        "--backend",
        "litellm",
        "--data",
        str(data),
        "--limit",
        "2",
        "--style",
        "gsm8k",
        "--num-fewshot",
        "2",
        "-o",
        str(out),
        "--summary",
        str(summary),
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "accuracy (flexible)" in printed and "warning" in printed
    assert len(out.read_text().splitlines()) == 2
    saved = json.loads(summary.read_text())
    assert saved["n"] == 2 and saved["settings"]["num_fewshot"] == 2


def test_cli_reports_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(
        "eval",
        "gsm8k",
        "--model",
        "fake/x",
        "--backend",
        "litellm",
        "--data",
        str(tmp_path / "missing.jsonl"),
    )
    assert code == 2
    assert "cannot open" in capsys.readouterr().err


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'datasets', 'vllm'):\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        "import evolkit.evaluate as e\n"
        "from evolkit.evaluate import _cli\n"
        "assert e.evaluate_gsm8k and e.check_contamination\n"
        "from evolkit.errors import EvolkitError\n"
        "rows = [{'question': 'q', 'answer': '#### 1'}]\n"
        "try:\n"
        "    e.evaluate_gsm8k('some/model', backend='hf', data=rows)\n"
        "except EvolkitError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MissingExtraError transformers is not installed")
    assert "evolkit[eval]" in done.stdout


# ---------------------------------------------------------------------------------------------
# the vLLM path, against a stand-in module with vLLM's offline interface


class _FakeTokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages: list[Any], **kwargs: Any) -> str:
        assert kwargs == {"tokenize": False, "add_generation_prompt": True}
        return "<user>" + messages[0]["content"] + "<assistant>"

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        assert add_special_tokens is False
        return {"input_ids": [ord(c) for c in text]}


class _FakeVLLM:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], Any]] = []
        self.engine_args: dict[str, Any] = {}
        fake = self

        class SamplingParams:
            def __init__(self, **kwargs: Any) -> None:
                self.kwargs = kwargs

        class LLM:
            def __init__(self, **kwargs: Any) -> None:
                fake.engine_args = kwargs

            def get_tokenizer(self) -> _FakeTokenizer:
                return _FakeTokenizer()

            def generate(self, inputs: list[Any], params: Any, use_tqdm: bool) -> list[Any]:
                fake.calls.append((inputs, params))
                n = params.kwargs["n"]

                class Out:
                    def __init__(self, text: str) -> None:
                        self.text = text

                class Result:
                    def __init__(self) -> None:
                        self.outputs = [Out("4 * 12 = 48\n#### 48\n\nQuestion: more")] * n

                return [Result() for _ in inputs]

        self.LLM = LLM
        self.SamplingParams = SamplingParams


@pytest.mark.parametrize("style", ["gsm8k", "chat"])
def test_vllm_generator_makes_one_engine_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    fake = _FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    data = write_questions(tmp_path / "t.jsonl")
    result = evaluate_gsm8k(
        "some/model",
        backend="vllm",
        style=style,
        data=data,
        backend_options={"gpu_memory_utilization": 0.8},
        seed=5,
    )
    assert len(fake.calls) == 1
    inputs, params = fake.calls[0]
    assert len(inputs) == 3
    assert fake.engine_args == {"model": "some/model", "seed": 5, "gpu_memory_utilization": 0.8}
    assert params.kwargs["temperature"] == 0.0 and params.kwargs["max_tokens"] == 512
    if style == "chat":
        assert params.kwargs["stop"] is None
        assert isinstance(inputs[0], dict) and "prompt_token_ids" in inputs[0]
        assert result.records[0].prompt.startswith("<user>Mia packs")
    else:
        assert params.kwargs["stop"] == list(get_style("gsm8k").stop)
        assert isinstance(inputs[0], str) and inputs[0].endswith("\nAnswer:")
        # The text after a stop string is cut off, also when the engine left it in.
        assert result.records[0].output == "4 * 12 = 48\n#### 48\n\n"
    assert result.backend == "vllm"
    assert [r.correct for r in result.records] == [True, False, False]
