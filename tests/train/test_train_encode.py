"""Labels: prompt tokens masked exactly, EOS the last label and learned, pad distinct from EOS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

pytest.importorskip("transformers")

from evolkit.errors import ConfigError
from evolkit.templates import ALPACA
from evolkit.train._data import ChatExample, PromptExample
from evolkit.train._encode import IGNORE_INDEX, encode_example, encode_examples
from evolkit.train._model import NEW_PAD, ensure_pad_token


@pytest.fixture
def tokenizer(tiny_tokenizer: Any) -> Any:
    tok = copy.deepcopy(tiny_tokenizer)
    ensure_pad_token(tok)
    return tok


@pytest.mark.parametrize("index", range(8))
def test_labels_mask_exactly_the_prompt_tokens(
    tokenizer: Any, facts: list[tuple[str, str, str]], index: int
) -> None:
    instruction, input, output = facts[index]
    prompt = ALPACA.render(instruction, input)
    item = encode_example(PromptExample(instruction, input, output), tokenizer, ALPACA)
    # Recompute, token by token, which tokens begin before the end of the rendered prompt.
    enc = tokenizer(prompt + output, add_special_tokens=True, return_offsets_mapping=True)
    assert list(item.input_ids[:-1]) == enc["input_ids"]
    for position, (token, (start, _end)) in enumerate(
        zip(enc["input_ids"], enc["offset_mapping"], strict=True)
    ):
        in_prompt = start < len(prompt) or position == 0
        expected = IGNORE_INDEX if in_prompt else token
        assert item.labels[position] == expected, (position, tokenizer.decode([token]))
    # The masked part decodes to the prompt, the learned part to the response.
    masked = [t for t, lab in zip(item.input_ids, item.labels, strict=True) if lab == IGNORE_INDEX]
    learned = [t for t, lab in zip(item.input_ids, item.labels, strict=True) if lab != IGNORE_INDEX]
    assert tokenizer.decode(masked, skip_special_tokens=True) == prompt
    assert tokenizer.decode(learned[:-1]) == output
    # EOS closes the sequence, is the last label and is learned.
    assert item.input_ids[-1] == tokenizer.eos_token_id
    assert item.labels[-1] == tokenizer.eos_token_id
    assert item.trained_tokens == len(learned) > 1


def test_pad_token_is_distinct_from_eos(tiny_tokenizer: Any) -> None:
    tok = copy.deepcopy(tiny_tokenizer)
    assert tok.pad_token is None
    added = ensure_pad_token(tok)
    assert tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id
    # No reserved pad token in this vocabulary, but <unk> is free: no resize needed.
    assert not added and tok.pad_token == "<unk>"
    # A tokenizer whose pad is its EOS (and with no spare token) gets a new one.
    tok2 = copy.deepcopy(tiny_tokenizer)
    tok2.pad_token = tok2.eos_token
    tok2.unk_token = tok2.eos_token
    assert ensure_pad_token(tok2)
    assert tok2.pad_token == NEW_PAD and tok2.pad_token_id != tok2.eos_token_id
    assert tok2.pad_token_id == len(tok2) - 1


def test_too_long_rows_are_dropped_and_counted(
    tokenizer: Any, facts: list[tuple[str, str, str]]
) -> None:
    examples = [PromptExample(q, i, a) for q, i, a in facts]
    lengths = [len(encode_example(e, tokenizer, ALPACA).input_ids) for e in examples]
    limit = sorted(lengths)[len(lengths) // 2]
    encoded, skipped = encode_examples(examples, tokenizer, "alpaca", limit)
    assert len(encoded) == sum(n <= limit for n in lengths)
    assert skipped == {"too_long": sum(n > limit for n in lengths)}
    assert all(len(e.input_ids) <= limit for e in encoded)


def test_multi_turn_rows_need_the_chat_template(tokenizer: Any) -> None:
    chat = ChatExample(
        (("user", "Hi"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Bye."))
    )
    single = ChatExample((("user", "What is two plus three?"), ("assistant", "Five.")))
    encoded, skipped = encode_examples([chat, single], tokenizer, "alpaca", 512)
    assert skipped == {"not_single_turn": 1}
    assert encoded[0] == encode_example(
        PromptExample("What is two plus three?", "", "Five."), tokenizer, ALPACA
    )


def test_chat_template_masks_every_non_assistant_token(tokenizer: Any, chat_template: str) -> None:
    with pytest.raises(ConfigError, match="chat template"):
        encode_example(PromptExample("Hi", "", "Hello."), tokenizer, "chat")
    tokenizer.chat_template = chat_template
    chat = ChatExample(
        (
            ("system", "Be brief."),
            ("user", "What is two plus three?"),
            ("assistant", "Five."),
            ("user", "And four plus four?"),
            ("assistant", "Eight."),
        )
    )
    item = encode_example(chat, tokenizer, "chat")
    learned = [
        t if lab != IGNORE_INDEX else None
        for t, lab in zip(item.input_ids, item.labels, strict=True)
    ]
    # Split the learned tokens into runs: one per assistant turn, each ending with <|end|>.
    runs: list[list[int]] = [[]]
    for token in learned:
        if token is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(token)
    runs = [r for r in runs if r]
    end = tokenizer.convert_tokens_to_ids("<|end|>")
    assert len(runs) == 2
    assert tokenizer.decode(runs[0]) == "Five.<|end|>"
    assert runs[1][-2:] == [end, tokenizer.eos_token_id]
    assert tokenizer.decode(runs[1][:-2]) == "Eight."
    assert item.input_ids[-1] == item.labels[-1] == tokenizer.eos_token_id
    # The masked part is exactly what the template renders around the replies.
    masked = tokenizer.decode(
        [t for t, lab in zip(item.input_ids, item.labels, strict=True) if lab == IGNORE_INDEX]
    )
    assert "Be brief." in masked and "And four plus four?" in masked
    assert "Five." not in masked and "Eight." not in masked
    # An Alpaca row rendered with the chat template is one user turn and one reply.
    row = encode_example(PromptExample("Double it.", "21", "42"), tokenizer, "chat")
    rendered = tokenizer.decode(row.input_ids)
    assert rendered.startswith("<|user|>\nDouble it.\n\n21\n<|assistant|>\n42<|end|>")
