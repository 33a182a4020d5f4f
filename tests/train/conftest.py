"""Fixtures for the training tests: a tiny Llama-shaped model and a tokenizer trained here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolkit.templates import ALPACA

# Questions and answers written for these tests: short arithmetic, so a tiny model can learn them.
FACTS = [
    ("What is two plus three?", "", "Five."),
    ("What is four plus four?", "", "Eight."),
    ("Name the colour of a clear daytime sky.", "", "Blue."),
    ("Add the numbers.", "6 and 1", "Seven."),
    ("What is ten minus seven?", "", "Three."),
    ("Which is larger, nine or two?", "", "Nine is larger."),
    ("Reverse the word.", "stop", "pots"),
    ("What is half of twelve?", "", "Six."),
]

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ '<|end|>' }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    texts = [ALPACA.render(q, i) + a for q, i, a in FACTS]
    texts += [ALPACA.preamble, ALPACA.preamble_with_input, "0123456789 .,?!:;'\"()-"]
    return texts * 4


def build_tokenizer(directory: Path) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=[
            "<unk>",
            "<s>",
            "</s>",
            "<|user|>",
            "<|assistant|>",
            "<|system|>",
            "<|end|>",
        ],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(directory)
    return fast


def build_model(directory: Path, vocab_size: int, seed: int = 0) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a random 2-layer Llama and its tokenizer (no pad token)."""
    directory = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tokenizer(directory)
    build_model(directory, len(tokenizer))
    return directory


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def evolkit_rows(copies: int = 1) -> list[dict[str, Any]]:
    """Rows in the layout evolkit writes."""
    rows = []
    for n in range(copies):
        for k, (q, i, a) in enumerate(FACTS):
            rows.append(
                {
                    "id": f"{n}-{k}",
                    "instruction": q,
                    "input": i,
                    "output": a,
                    "parent_id": None,
                    "operator": None,
                    "round": 0,
                    "metadata": {},
                }
            )
    return rows


@pytest.fixture
def facts_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "facts.jsonl", evolkit_rows())


@pytest.fixture(scope="session")
def facts() -> list[tuple[str, str, str]]:
    """(instruction, input, output) triples the tiny tokenizer was trained on."""
    return list(FACTS)


@pytest.fixture(scope="session")
def chat_template() -> str:
    """A small chat template using the tiny tokenizer's role tokens."""
    return CHAT_TEMPLATE


@pytest.fixture(scope="session")
def make_rows() -> Any:
    """``make_rows(copies)``: evolkit-layout rows of the facts, repeated."""
    return evolkit_rows
