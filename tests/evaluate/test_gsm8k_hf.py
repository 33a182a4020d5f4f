"""End to end on CPU with a tiny random transformers model that the test builds (no hub)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from evolkit.errors import ConfigError, MissingExtraError
from evolkit.evaluate import (
    HFGenerator,
    Prompt,
    SamplingConfig,
    evaluate_gsm8k,
    extract_answer,
    get_style,
    numbers_match,
    random_model,
)

QUESTIONS = [
    ("Sam buys 3 packs of 8 cards. How many cards does he buy?", "3*8=<<3*8=24>>24\n#### 24"),
    (
        "A tank has 1,200 liters and loses 150. How much is left?",
        "1200-150=<<1200-150=1050>>1,050\n#### 1,050",
    ),
    ("Eva reads 20 pages a day for 7 days. How many pages?", "20*7=<<20*7=140>>140\n#### 140"),
    ("A bag of 5 apples costs $2. What do 4 bags cost?", "4*2=<<4*2=8>>8\n#### 8"),
    ("There are 9 rows of 11 chairs. How many chairs?", "9*11=<<9*11=99>>99\n#### 99"),
]


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    corpus = [q + " " + a for q, a in QUESTIONS] * 3 + [
        "Below is an instruction that describes a task. ### Instruction: ### Response: "
        "Let's think step by step. The answer is: Question: Answer: Q: A: 0123456789"
    ]
    return random_model(corpus, vocab_size=400, hidden_size=32, layers=2, heads=2, seed=0)


@pytest.fixture()
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "gsm8k_test.jsonl"
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS))
    return path


def _check_records_follow_extraction(result: Any, style: str) -> None:
    marker = get_style(style).marker
    for record in result.records:
        found = extract_answer(record.output, marker)
        assert record.extracted == found.normalized
        assert record.layer == found.layer
        assert record.correct == numbers_match(found.value, float(record.gold))
        assert record.prompt
    n = result.n
    assert result.flexible == sum(r.correct for r in result.records) / n
    assert result.strict == sum(r.strict_correct for r in result.records) / n
    assert result.invalid_rate == sum(r.extracted is None for r in result.records) / n


@pytest.mark.slow
@pytest.mark.parametrize("style", ["wizardmath", "gsm8k", "gsm8k_cot", "chat"])
def test_tiny_model_end_to_end(
    tiny: tuple[Any, Any], data_file: Path, tmp_path: Path, style: str
) -> None:
    model, tokenizer = tiny
    out = tmp_path / "records.jsonl"
    result = evaluate_gsm8k(
        model,
        tokenizer=tokenizer,
        backend="hf",
        style=style,
        data=data_file,
        limit=4,
        max_new_tokens=12,
        batch_size=3,
        num_fewshot=2 if style in {"gsm8k", "gsm8k_cot"} else None,
        output=out,
    )
    assert result.n == 4 and result.backend == "hf"
    assert len(out.read_text().splitlines()) == 4
    _check_records_follow_extraction(result, style)
    for record in result.records:
        assert len(record.outputs) == 1
        # Stop strings are cut off the output.
        assert not any(stop in record.output for stop in get_style(style).stop)
    if style == "chat":
        assert result.records[0].prompt.startswith("<|user|>\n")
    else:
        shots = get_style(style).exemplars(k=2 if style in {"gsm8k", "gsm8k_cot"} else 0)
        expected = get_style(style).prompt(QUESTIONS[0][0], shots).text
        assert result.records[0].prompt == expected


@pytest.mark.slow
def test_saved_model_loads_by_path_and_samples(
    tiny: tuple[Any, Any], data_file: Path, tmp_path: Path
) -> None:
    model, tokenizer = tiny
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    result = evaluate_gsm8k(
        str(tmp_path / "tiny"),
        backend="hf",
        style="wizardmath",
        data=data_file,
        limit=3,
        max_new_tokens=8,
        samples=3,
        temperature=1.0,
        seed=3,
    )
    assert result.model == str(tmp_path / "tiny")
    assert all(len(record.outputs) == 3 for record in result.records)
    for record in result.records:
        assert sum(record.votes.values()) == sum(
            extract_answer(o, get_style("wizardmath").marker).found for o in record.outputs
        )


@pytest.mark.slow
def test_left_padded_batches_match_single_prompts(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    prompts = [
        Prompt(text="Sam buys 3 packs"),
        Prompt(text="There are 9 rows of 11 chairs. How many chairs? Let's think"),
        Prompt(text="A tank"),
    ]
    config = SamplingConfig(max_new_tokens=10)
    batched = HFGenerator(model, tokenizer, batch_size=3).generate(prompts, config)
    single = HFGenerator(model, tokenizer, batch_size=1).generate(prompts, config)
    assert [g.outputs for g in batched] == [g.outputs for g in single]
    assert [g.prompt for g in batched] == [p.text for p in prompts]
    assert tokenizer.padding_side == "left"


def test_generation_config_carries_stops_and_sampling(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer, static_cache=True)
    greedy = generator._generation_config(SamplingConfig(stop=("Question:",)))
    assert greedy.do_sample is False and greedy.stop_strings == ["Question:"]
    assert greedy.cache_implementation == "static" and greedy.disable_compile is True
    sampled = generator._generation_config(SamplingConfig(samples=4, temperature=0.8))
    assert sampled.do_sample is True and sampled.num_return_sequences == 4
    assert sampled.temperature == 0.8


def test_chat_style_needs_a_chat_template(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer)
    saved = tokenizer.chat_template
    tokenizer.chat_template = None
    try:
        with pytest.raises(ConfigError, match="no chat template"):
            generator.render(get_style("chat").prompt("q"))
    finally:
        tokenizer.chat_template = saved


def test_model_object_needs_its_tokenizer(tiny: tuple[Any, Any]) -> None:
    with pytest.raises(ConfigError, match="tokenizer"):
        HFGenerator(tiny[0])


def test_hf_backend_without_transformers_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, data_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match="transformers") as info:
        evaluate_gsm8k("any/model", backend="hf", data=data_file)
    assert "evolkit[eval]" in str(info.value)


def test_vllm_backend_without_vllm_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, data_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingExtraError, match="--backend hf"):
        evaluate_gsm8k("any/model", backend="vllm", data=data_file)
