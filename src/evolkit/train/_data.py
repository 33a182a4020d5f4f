"""Reading training examples: evolkit JSONL, Alpaca JSON, or chat ``messages`` JSONL.

Nothing here needs torch: rows become :class:`PromptExample` (instruction, input, output)
or :class:`ChatExample` (a conversation), and rows with nothing to learn are counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import user_message
from evolkit.errors import ConfigError, SeedFileError
from evolkit.io import iter_jsonl

__all__ = ["ChatExample", "Example", "PromptExample", "read_examples"]

_ROLES = ("system", "user", "assistant")


@frozen
class PromptExample:
    """One instruction row: the prompt is rendered from ``instruction`` and ``input``."""

    instruction: str
    input: str
    output: str
    id: str | None = None


@frozen
class ChatExample:
    """One conversation: ``messages`` as ``(role, content)`` pairs, ending with the assistant."""

    messages: tuple[tuple[str, str], ...]
    id: str | None = None

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


Example = PromptExample | ChatExample


def _iter_rows(path: Path, data_format: str) -> Iterator[tuple[int | None, Any]]:
    """Yield ``(line or None, row)`` from a JSON array file or a JSONL file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeedFileError(str(path), None, "no such file", "check the --data path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedFileError(str(path), None, f"cannot read: {exc}") from None
    stripped = text.lstrip()
    is_array = stripped.startswith("[") if data_format == "auto" else data_format == "alpaca"
    if is_array:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedFileError(
                str(path),
                exc.lineno,
                f"not valid JSON: {exc.msg}",
                "an Alpaca file is one JSON array",
            ) from None
        if not isinstance(rows, list):
            raise SeedFileError(str(path), None, "the JSON file is not an array of rows")
        for row in rows:
            yield None, row
        return
    yield from iter_jsonl(path)


def _string(row: Mapping[str, Any], key: str, where: tuple[str, int | None]) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SeedFileError(
            where[0], where[1], f"{key!r} must be a string, got {type(value).__name__}"
        )
    return value


def _prompt_row(row: Mapping[str, Any], where: tuple[str, int | None]) -> PromptExample | None:
    instruction = row.get("instruction", row.get("text"))
    if not isinstance(instruction, str) or not instruction.strip():
        raise SeedFileError(where[0], where[1], "a row needs a non-empty string 'instruction'")
    output = _string(row, "output", where)
    if not output.strip():
        return None
    row_id = row.get("id")
    return PromptExample(
        instruction,
        _string(row, "input", where),
        output,
        str(row_id) if row_id is not None else None,
    )


def _chat_row(row: Mapping[str, Any], where: tuple[str, int | None]) -> ChatExample | None:
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SeedFileError(where[0], where[1], "'messages' must be a non-empty list")
    pairs: list[tuple[str, str]] = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise SeedFileError(where[0], where[1], "each message must be an object")
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise SeedFileError(
                where[0], where[1], f"unknown message role {role!r}", f"use {', '.join(_ROLES)}"
            )
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise SeedFileError(where[0], where[1], "message 'content' must be a string")
        pairs.append((role, content))
    # Trailing turns after the last assistant reply teach nothing; no reply at all: no output.
    while pairs and pairs[-1][0] != "assistant":
        pairs.pop()
    if not pairs or not pairs[-1][1].strip():
        return None
    row_id = row.get("id")
    return ChatExample(tuple(pairs), str(row_id) if row_id is not None else None)


def read_examples(
    path: str | Path, data_format: str = "auto"
) -> tuple[list[Example], int, dict[str, int]]:
    """Read a training file: returns ``(examples, rows read, {skip reason: count})``.

    ``data_format`` is ``auto`` (a JSON array is Alpaca JSON; JSONL rows with ``messages`` are
    chat rows, others are evolkit / Alpaca rows), ``evolkit``, ``alpaca`` or ``messages``.
    Rows whose ``output`` is null or blank (or whose conversation has no assistant reply) are
    skipped and counted under ``no_output``.
    """
    if data_format not in ("auto", "evolkit", "alpaca", "messages"):
        raise ConfigError(
            f"unknown data format {data_format!r}: use auto, evolkit, alpaca or messages"
        )
    source = Path(path)
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    rows = 0
    for line, row in _iter_rows(source, data_format):
        rows += 1
        where = (str(source), line)
        if not isinstance(row, Mapping):
            raise SeedFileError(
                where[0], where[1], f"a row must be a JSON object, got {type(row).__name__}"
            )
        chat = data_format == "messages" or (data_format == "auto" and "messages" in row)
        example = _chat_row(row, where) if chat else _prompt_row(row, where)
        if example is None:
            skipped["no_output"] += 1
        else:
            examples.append(example)
    return examples, rows, dict(skipped)


def single_turn(example: ChatExample) -> PromptExample | None:
    """The conversation as one instruction row, when it is one user turn and one reply."""
    roles = tuple(role for role, _ in example.messages)
    if roles != ("user", "assistant"):
        return None
    (_, user), (_, reply) = example.messages
    return PromptExample(user, "", reply, example.id)


def as_messages(example: PromptExample) -> list[dict[str, str]]:
    """An instruction row as a two-turn conversation (the input follows the instruction)."""
    user = user_message(example.instruction, example.input)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": example.output}]
