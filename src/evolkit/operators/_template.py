"""``TemplateMutator``: an operator made of a prompt template and a lenient reply parser.

Every built-in operator is one, and a plugin can make its own the same way::

    from evolkit.operators import TemplateMutator

    upward = TemplateMutator(
        name="math.upward",
        kind="math",
        template="Make this maths problem need one more step: {variant}.\\n\\n{instruction}",
        variants=("add a unit conversion", "add a percentage"),
    )
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
from attrs import field, frozen

from evolkit._markers import INPUT_TAG, INSTRUCTION_TAG, wrap
from evolkit._shapes import ReplyShape, rewrite_shape
from evolkit._types import ChatMessage, Instruction, Rejected
from evolkit.operators import prompts
from evolkit.operators._reply import (
    extract_input,
    extract_rewrite,
    looks_like_answer,
    looks_like_refusal,
    normalise,
    word_count,
)

__all__ = ["InputMode", "TemplateMutator"]

InputMode = Literal["keep", "rewrite", "drop"]
"""What an operator does with the parent's input: keep it, let the model rewrite it, or drop it."""

_PLACEHOLDER = re.compile(r"\{(instruction|variant)\}")


def _check_template(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if "{instruction}" not in value:
        raise ValueError(f"{type(instance).__name__}.template needs an {{instruction}} placeholder")


def _check_variants(
    instance: TemplateMutator, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    if "{variant}" in instance.template and not value:
        raise ValueError(
            f"operator {instance.name!r}: the template has a {{variant}} placeholder "
            "but no variants were given"
        )
    if any(not isinstance(v, str) or not v.strip() for v in value):
        raise ValueError(f"operator {instance.name!r}: every variant must be a non-blank string")


_positive = attrs.validators.ge(1)


def _to_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@frozen(kw_only=True)
class TemplateMutator:
    """A :class:`evolkit.Mutator` built from a prompt template.

    ``template`` is the user prompt, with ``{instruction}`` (the parent wrapped in
    ``<instruction>`` tags, and its input in ``<input>`` tags when it has one) and optionally
    ``{variant}`` (one of ``variants``, drawn with the engine's seeded ``rng``). Any other
    braces are left as they are. The reply format (``output_format``, or
    ``output_format_with_input`` when the operator rewrites a parent's input) is appended as
    the last line, because small models follow the last thing they read best.

    :meth:`parse` reads the rewrite leniently (see :func:`extract_rewrite`) and rejects, with
    these reasons: ``empty_rewrite``, ``refused`` (the model declined), ``unchanged`` (same
    text and input as the parent, ignoring case and spacing), ``answered_instead`` (the reply
    answers the instruction; off with ``reject_answers=False``) and ``too_long`` (more than
    ``max_added_words`` words longer than the parent, or its input more than
    ``max_added_input_words`` longer).

    It also declares the shape of its reply (:class:`~evolkit._protocols.ShapedMutator`): with
    ``--structured`` on, the reply format is ``json_format`` (or ``json_format_with_input``), the
    reply is a JSON object with a short ``plan`` and the ``rewrite`` (and the new ``input``), and
    :meth:`parse_shaped` applies the same checks to the fields.
    """

    name: str = field(validator=attrs.validators.instance_of(str))
    kind: str = field(validator=attrs.validators.instance_of(str))
    template: str = field(repr=False, validator=_check_template)
    variants: tuple[str, ...] = field(
        default=(), converter=_to_tuple, repr=False, validator=_check_variants
    )
    system: str = field(default=prompts.SYSTEM, repr=False)
    predicate: Callable[[Instruction], bool] | None = field(default=None, repr=False)
    input_mode: InputMode = field(
        default="keep", validator=attrs.validators.in_(("keep", "rewrite", "drop"))
    )
    max_added_words: int = field(default=80, validator=_positive)
    max_added_input_words: int = field(default=400, validator=_positive)
    reject_answers: bool = True
    output_format: str = field(default=prompts.FORMAT_REWRITE, repr=False)
    output_format_with_input: str = field(default=prompts.FORMAT_REWRITE_WITH_INPUT, repr=False)
    json_format: str = field(default=prompts.FORMAT_JSON, repr=False)
    json_format_with_input: str = field(default=prompts.FORMAT_JSON_WITH_INPUT, repr=False)
    description: str = field(default="", repr=False)

    def applies_to(self, instruction: Instruction) -> bool:
        """``predicate(instruction)``; every instruction when there is no predicate."""
        return self.predicate is None or bool(self.predicate(instruction))

    @property
    def prompt_texts(self) -> tuple[str, ...]:
        """The fixed text of every prompt this operator sends: system, template, variants, formats.

        The placeholders are cut out, so no run of words spans one.
        """
        pieces = _PLACEHOLDER.split(self.template)[::2]
        formats = (
            self.output_format,
            self.output_format_with_input,
            self.json_format,
            self.json_format_with_input,
        )
        return (self.system, *pieces, *self.variants, *formats)

    def _rewrites_input(self, instruction: Instruction) -> bool:
        return self.input_mode == "rewrite" and bool(instruction.input.strip())

    def render(self, instruction: Instruction, variant: str = "", *, json: bool = False) -> str:
        """The user prompt for ``instruction`` with ``variant``, reply format last (the JSON
        one with ``json``)."""
        block = wrap(INSTRUCTION_TAG, instruction.text)
        if instruction.input.strip():
            block += "\n" + wrap(INPUT_TAG, instruction.input)
        values = {"instruction": block, "variant": variant}
        body = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template).rstrip()
        with_input = self._rewrites_input(instruction)
        if json:
            fmt = self.json_format_with_input if with_input else self.json_format
        else:
            fmt = self.output_format_with_input if with_input else self.output_format
        return f"{body}\n\n{fmt}"

    def _messages(
        self, instruction: Instruction, rng: random.Random, json: bool
    ) -> list[ChatMessage]:
        variant = rng.choice(self.variants) if self.variants else ""
        return [
            ChatMessage(role="system", content=self.system),
            ChatMessage(role="user", content=self.render(instruction, variant, json=json)),
        ]

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        """``[system, user]`` messages asking to evolve ``instruction``; one variant drawn."""
        return self._messages(instruction, rng, json=False)

    def reply_shape(self, instruction: Instruction) -> ReplyShape:
        """A short plan and the rewrite, and the new input when this operator rewrites it."""
        return rewrite_shape(with_input=self._rewrites_input(instruction))

    def build_shaped_messages(
        self, instruction: Instruction, rng: random.Random
    ) -> list[ChatMessage]:
        """:meth:`build_messages` with the JSON reply format last (same variant drawn)."""
        return self._messages(instruction, rng, json=True)

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        """The evolved instruction in ``reply``, or :class:`~evolkit.Rejected` saying why not."""
        new_input: str | None = None
        if self.input_mode == "rewrite":
            new_input = extract_input(reply)
        return self._checked(extract_rewrite(reply), new_input, parent)

    def parse_shaped(
        self, fields: Mapping[str, Any], parent: Instruction
    ) -> Instruction | Rejected:
        """The evolved instruction in a JSON reply's ``fields`` (``rewrite``, and ``input``
        when asked for), with the checks of :meth:`parse`."""
        raw_input = fields.get("input")
        new_input = raw_input.strip() or None if isinstance(raw_input, str) else None
        return self._checked(extract_rewrite(str(fields["rewrite"])), new_input, parent)

    def _checked(
        self, text: str, new_input: str | None, parent: Instruction
    ) -> Instruction | Rejected:
        if not text:
            return Rejected("empty_rewrite")
        if looks_like_refusal(text):
            return Rejected("refused")
        if self.input_mode == "drop":
            new_input = ""
        child_input = parent.input if new_input is None else new_input
        if normalise(text) == normalise(parent.text) and normalise(child_input) == normalise(
            parent.input
        ):
            return Rejected("unchanged")
        if self.reject_answers and looks_like_answer(text, parent.text):
            return Rejected("answered_instead")
        if word_count(text) > word_count(parent.text) + self.max_added_words:
            return Rejected("too_long")
        if word_count(child_input) > word_count(parent.input) + self.max_added_input_words:
            return Rejected("too_long")
        return parent.derive(text, input=new_input)
