"""evolkit's value types: frozen, validated, changed only through :func:`attrs.evolve`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

import attrs
from attrs import field, frozen

from evolkit._fields import named_fields

__all__ = [
    "ChatMessage",
    "Completion",
    "Instruction",
    "Rejected",
    "ScoreFailure",
    "ScoreItem",
    "Usage",
    "Verdict",
    "content_id",
    "lineage_of",
    "user_message",
]


class ChatMessage(TypedDict):
    """One chat message in the OpenAI layout that every litellm model accepts."""

    role: Literal["system", "user", "assistant"]
    content: str


def content_id(text: str, input: str = "") -> str:
    """The stable id of an instruction: a hash of its text and input, 16 hex digits.

    The same content always gets the same id, on every machine and Python version.
    """
    h = hashlib.blake2b(digest_size=8)
    h.update(text.encode("utf-8"))
    h.update(b"\x1f")
    h.update(input.encode("utf-8"))
    return h.hexdigest()


def _non_blank(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must not be blank")


def _non_negative(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must be >= 0, got {value}")


def _json_object(instance: Any, attribute: attrs.Attribute[Mapping[str, Any]], value: Any) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"metadata must be a mapping, got {type(value).__name__}")
    if not value:  # the common case: nothing to check (this runs for every instruction made)
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None


def user_message(text: str, input: str = "") -> str:
    """The user turn for an instruction: its text, then its input after a blank line.

    An input of only whitespace counts as none. Every layer renders through here (the engine's
    response request, chat export, training and evaluation rows, plugins), so a model is trained
    on exactly the prompt that was answered.
    """
    return f"{text}\n\n{input}" if input.strip() else text


def _default_id(self: Instruction) -> str:
    if not isinstance(self.text, str) or not isinstance(self.input, str):
        raise TypeError("Instruction.text and Instruction.input must be strings")
    return content_id(self.text, self.input)


@frozen(kw_only=True)
class Instruction:
    """One instruction of the pool, with its lineage.

    ``id`` is derived from ``text`` and ``input`` unless given. A seed has no ``parent_id``,
    no ``operator`` and ``round == 0``; an evolved instruction names the instruction it was
    made from, the operator that made it and the round it was made in.
    """

    text: str = field(validator=[attrs.validators.instance_of(str), _non_blank])
    input: str = field(default="", validator=attrs.validators.instance_of(str))
    response: str | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    id: str = field(
        default=attrs.Factory(_default_id, takes_self=True),
        validator=[attrs.validators.instance_of(str), _non_blank],
    )
    parent_id: str | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    operator: str | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    round: int = field(default=0, validator=[attrs.validators.instance_of(int), _non_negative])
    metadata: Mapping[str, Any] = field(
        factory=dict, validator=_json_object, hash=False, converter=dict
    )

    @property
    def is_seed(self) -> bool:
        """True for an instruction that no operator made."""
        return self.parent_id is None

    def derive(self, text: str, input: str | None = None, **changes: Any) -> Instruction:
        """A new instruction made from this one: fresh id from the new content, no response.

        Lineage (``parent_id``, ``operator``, ``round``) is filled in by the engine.
        """
        new_input = self.input if input is None else input
        return attrs.evolve(
            self,
            text=text,
            input=new_input,
            response=None,
            id=content_id(text, new_input),
            **changes,
        )

    def user_message(self) -> str:
        """The user turn that asks for this instruction's response (see :func:`user_message`)."""
        return user_message(self.text, self.input)

    def evolved_from(self, parent: Instruction, operator: str, round: int) -> Instruction:
        """This rewrite as ``parent``'s child: lineage stamped, id from the content, no response.

        The engine stamps every evolved instruction here (and :mod:`evolkit.testing` too).
        """
        return attrs.evolve(
            self,
            id=content_id(self.text, self.input),
            parent_id=parent.id,
            operator=operator,
            round=round,
            response=None,
        )

    def to_record(self) -> dict[str, Any]:
        """The row written to JSONL: Alpaca keys plus lineage, always the same shape."""
        return {
            "id": self.id,
            "instruction": self.text,
            "input": self.input,
            "output": self.response,
            **named_fields(self, "parent_id", "operator", "round"),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Instruction:
        """Inverse of :meth:`to_record`; also reads plain Alpaca rows and ``text`` rows."""
        text = record.get("instruction", record.get("text"))
        if not isinstance(text, str):
            raise ValueError("a row needs a string 'instruction' (or 'text')")
        kwargs: dict[str, Any] = {"text": text}
        if record.get("input") is not None:
            kwargs["input"] = record["input"]
        if record.get("output") is not None:
            kwargs["response"] = record["output"]
        for key in ("id", "parent_id", "operator"):
            if record.get(key) is not None:
                kwargs[key] = record[key]
        if record.get("round") is not None:
            kwargs["round"] = record["round"]
        if record.get("metadata") is not None:
            kwargs["metadata"] = record["metadata"]
        return cls(**kwargs)

    def _repr_html_(self) -> str:
        from evolkit._display import instruction_html

        return instruction_html(self)


@frozen
class Verdict:
    """A filter's judgement of one candidate: keep or drop, with a reason and the filter's name.

    ``metadata`` of a keep verdict is merged into the kept instruction's metadata (a
    self-consistency filter stores the agreed answer this way); that of a drop verdict goes
    into the drop record.
    """

    keep: bool
    reason: str = field(validator=[attrs.validators.instance_of(str), _non_blank])
    filter: str = field(validator=[attrs.validators.instance_of(str), _non_blank])
    metadata: Mapping[str, Any] = field(
        factory=dict, validator=_json_object, hash=False, converter=dict, kw_only=True
    )

    @classmethod
    def kept(
        cls, filter: str, reason: str = "ok", metadata: Mapping[str, Any] | None = None
    ) -> Verdict:
        return cls(True, reason, filter, metadata=dict(metadata or {}))

    @classmethod
    def dropped(
        cls, filter: str, reason: str, metadata: Mapping[str, Any] | None = None
    ) -> Verdict:
        """A drop; ``metadata`` explains it (``{"duplicate_of": id}``) in the drop record."""
        return cls(False, reason, filter, metadata=dict(metadata or {}))


@frozen
class Rejected:
    """What a mutator's ``parse`` returns when the model's reply holds no usable rewrite."""

    reason: str = field(validator=[attrs.validators.instance_of(str), _non_blank])


@frozen
class Usage:
    """Tokens and cost of one or more model calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


#: The finish reason of a reply over the run's size limit (:meth:`Completion.within`).
REPLY_TOO_LONG = "reply_too_long"


@frozen
class Completion:
    """A backend's answer: the reply text, what it cost, and which model gave it."""

    text: str = field(validator=attrs.validators.instance_of(str))
    usage: Usage = field(factory=Usage)
    model: str = ""
    finish_reason: str | None = None

    @property
    def too_long(self) -> bool:
        """Whether this is a reply that was over the run's size limit, kept without its text
        (:meth:`within`)."""
        return self.finish_reason == REPLY_TOO_LONG

    def within(self, max_chars: int | None) -> Completion:
        """This reply, or, when its text is over ``max_chars`` characters, the same reply
        without the text and marked :attr:`too_long`: what a journal keeps of it, so a
        resumed run reaches the same verdict without the body stored."""
        if max_chars is None or len(self.text) <= max_chars:
            return self
        return attrs.evolve(self, text="", finish_reason=REPLY_TOO_LONG)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cost": self.usage.cost,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Completion:
        return cls(
            text=data["text"],
            usage=Usage(
                int(data.get("prompt_tokens", 0)),
                int(data.get("completion_tokens", 0)),
                float(data.get("cost", 0.0)),
            ),
            model=str(data.get("model", "")),
            finish_reason=data.get("finish_reason"),
        )


@frozen
class ScoreItem:
    """What a scorer judges: one row and its ancestors (seed first, parent last)."""

    row: Instruction
    ancestors: tuple[Instruction, ...] = ()

    @property
    def chain(self) -> tuple[Instruction, ...]:
        """The ancestors, then the row itself."""
        return (*self.ancestors, self.row)


@frozen
class ScoreFailure:
    """What a scorer returns when it cannot score a row: a counted reason, never a value."""

    reason: str = field(validator=[attrs.validators.instance_of(str), _non_blank])
    detail: str = ""


def lineage_of(by_id: Mapping[str, Instruction], id: str) -> list[Instruction]:
    """The chain from the seed to instruction ``id`` (seed first), through ``parent_id``.

    The chain stops at a parent that is not in ``by_id``; a cycle (only possible in edited
    files) stops after every row was visited once. Empty when ``id`` is unknown.
    """
    chain: list[Instruction] = []
    current = by_id.get(id)
    while current is not None and len(chain) <= len(by_id):
        chain.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return chain[::-1]
