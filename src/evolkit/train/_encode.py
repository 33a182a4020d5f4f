"""Rendering and tokenizing examples with the loss on response tokens only.

Each example becomes ``input_ids`` and ``labels`` of the same length: ``labels`` is ``-100``
on every prompt token and equal to ``input_ids`` on every response token, and the sequence
ends with the tokenizer's end-of-sequence token, which is a label so the model learns to stop.

Token boundaries come from the tokenizer's character offsets over the full rendered text
(fast tokenizers), so a token is a response token exactly when it starts inside a response
span, whatever the tokenizer merges at the boundary; slow tokenizers fall back to comparing
the tokens of each prefix. The tokenizer is duck-typed: nothing here imports torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from evolkit.errors import ConfigError
from evolkit.templates import PromptTemplate, get_template
from evolkit.train._data import ChatExample, Example, as_messages, single_turn

__all__ = ["IGNORE_INDEX", "Encoded", "encode_example", "encode_examples", "render_example"]

IGNORE_INDEX = -100


@frozen
class Encoded:
    """One tokenized example: ``labels[i]`` is ``input_ids[i]`` or ``-100`` (not learned)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


class _Skip(Exception):
    """An example that cannot be rendered for a known reason (counted, not raised)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _chat(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )
    if not isinstance(text, str):  # pragma: no cover - tokenize=False always returns text
        raise ConfigError("the tokenizer's chat template did not render text")
    return text


def render_example(
    example: Example, template: PromptTemplate | str, tokenizer: Any = None
) -> tuple[str, list[tuple[int, int]]]:
    """The full training text and the character spans the loss is computed on.

    With a :class:`~evolkit.templates.PromptTemplate` the text is ``render(instruction, input)``
    followed by the response; with ``"chat"`` it is the tokenizer's chat template, and every
    assistant turn whose rendering is a prefix of the whole conversation is a span.
    """
    if isinstance(template, str) and template != "chat":
        template = get_template(template)
    if isinstance(template, PromptTemplate):
        if isinstance(example, ChatExample):
            single = single_turn(example)
            if single is None:
                raise _Skip("not_single_turn")
            example = single
        prompt = template.render(example.instruction, example.input)
        return prompt + example.output, [(len(prompt), len(prompt) + len(example.output))]
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "template='chat' needs a tokenizer with a chat template; this model has none "
            "(use the alpaca template, or a model that ships a chat template)"
        )
    messages = example.as_dicts() if isinstance(example, ChatExample) else as_messages(example)
    try:
        full = _chat(tokenizer, messages, generation_prompt=False)
        spans: list[tuple[int, int]] = []
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = _chat(tokenizer, messages[:index], generation_prompt=True) if index else ""
            through = _chat(tokenizer, messages[: index + 1], generation_prompt=False)
            if through.startswith(before) and full.startswith(through):
                # Whitespace the template puts after the end-of-turn token is not learned.
                end = len(through.rstrip())
                if end > len(before):
                    spans.append((len(before), end))
    except ConfigError:
        raise
    except Exception as exc:  # jinja errors, templates that reject a role, ...
        raise ConfigError(f"the chat template cannot render a training row: {exc}") from exc
    if not spans or spans[-1][1] != len(full.rstrip()):
        raise _Skip("template_mismatch")
    return full[: spans[-1][1]], spans


def _trained_by_offsets(
    offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> list[bool]:
    """Per token: does it start inside a span? Tokens the post-processor added have no text."""
    # (0, 0) past the first token is a special token the post-processor added: never in a span.
    starts = [s if (s or e or i == 0) else -1 for i, (s, e) in enumerate(offsets)]
    trained = [False] * len(starts)
    for a, b in spans:
        trained = [t or a <= s < b for t, s in zip(trained, starts, strict=True)]
    return trained


def _offsets_labels(
    tokenizer: Any, text: str, spans: Sequence[tuple[int, int]], add_special: bool
) -> tuple[list[int], list[bool]]:
    """Token ids of ``text`` and, per token, whether it starts inside a span."""
    if getattr(tokenizer, "is_fast", False):
        encoding = tokenizer(text, add_special_tokens=add_special, return_offsets_mapping=True)
        return list(encoding["input_ids"]), _trained_by_offsets(encoding["offset_mapping"], spans)
    # Slow tokenizer: a token belongs to the response when it lies past the shared prefix of
    # the tokens of the text before the span and the tokens of the full text.
    ids = list(tokenizer(text, add_special_tokens=add_special)["input_ids"])
    trained = [False] * len(ids)
    for start, end in spans:
        first = _common_prefix(
            tokenizer(text[:start], add_special_tokens=add_special)["input_ids"], ids
        )
        last = _common_prefix(
            tokenizer(text[:end], add_special_tokens=add_special)["input_ids"], ids
        )
        for position in range(first, last):
            trained[position] = True
    return ids, trained


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _eos_id(tokenizer: Any) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ConfigError("the tokenizer has no end-of-sequence token; set tokenizer.eos_token")
    return int(eos)


def _finish(ids: list[int], trained: list[bool], eos: int) -> Encoded:
    """End the sequence with a learned EOS and turn the mask into labels."""
    # A post-processor that appends EOS gets no offsets: drop it, the EOS below is learned.
    while ids and ids[-1] == eos and not trained[-1]:
        ids.pop()
        trained.pop()
    if not ids or ids[-1] != eos:
        ids.append(eos)
        trained.append(True)
    labels = tuple(
        token if keep else IGNORE_INDEX for token, keep in zip(ids, trained, strict=True)
    )
    return Encoded(tuple(ids), labels)


def encode_example(example: Example, tokenizer: Any, template: PromptTemplate | str) -> Encoded:
    """Tokenize one example with prompt tokens masked and the end-of-sequence token learned.

    Raises ``_Skip`` for an example the template cannot render (see :func:`encode_examples`).
    """
    eos = _eos_id(tokenizer)
    text, spans = render_example(example, template, tokenizer)
    # Plain-text templates take the tokenizer's BOS; chat templates write their own tokens.
    ids, trained = _offsets_labels(tokenizer, text, spans, add_special=template != "chat")
    return _finish(ids, trained, eos)


_BATCH = 512


def encode_examples(
    examples: Sequence[Example], tokenizer: Any, template: PromptTemplate | str, max_length: int
) -> tuple[list[Encoded], dict[str, int]]:
    """Tokenize every example; drop (and count) those longer than ``max_length`` tokens.

    Same result as :func:`encode_example` on each, with fast tokenizers working in batches.
    """
    eos = _eos_id(tokenizer)
    add_special = template != "chat"
    skipped: Counter[str] = Counter()
    rendered: list[tuple[str, list[tuple[int, int]]]] = []
    for example in examples:
        try:
            rendered.append(render_example(example, template, tokenizer))
        except _Skip as skip:
            skipped[skip.reason] += 1
    items: list[Encoded] = []
    if getattr(tokenizer, "is_fast", False):
        for first in range(0, len(rendered), _BATCH):
            chunk = rendered[first : first + _BATCH]
            batch = tokenizer(
                [text for text, _ in chunk],
                add_special_tokens=add_special,
                return_offsets_mapping=True,
            )
            for ids, offsets, (_, spans) in zip(
                batch["input_ids"], batch["offset_mapping"], chunk, strict=True
            ):
                items.append(_finish(list(ids), _trained_by_offsets(offsets, spans), eos))
    else:
        for text, spans in rendered:
            items.append(_finish(*_offsets_labels(tokenizer, text, spans, add_special), eos))
    encoded: list[Encoded] = []
    for item in items:
        if len(item.input_ids) > max_length:
            skipped["too_long"] += 1
        elif item.trained_tokens == 0:
            skipped["no_output"] += 1
        else:
            encoded.append(item)
    return encoded, dict(skipped)
