"""The shape of a model's reply, declared once: the JSON schema a backend constrains to, and
the reader of a JSON reply.

An operator, a judge or a scorer declares a :class:`ReplyShape` (a named object of
:class:`ReplyField` values); :meth:`ReplyShape.schema` is what a backend that can constrain
decoding is asked to follow (``--structured``), and :meth:`ReplyShape.read` turns the reply back
into its fields, or a :class:`ShapeMismatch` saying why it does not fit. The schema keeps to
what strict JSON-schema modes accept everywhere: every property required, no extra ones.

The shapes every built-in call uses are here: :func:`rewrite_shape` (a rewrite after a short
plan, with the new input for an operator that rewrites it), :func:`verdict_shape` (a label from
an allowed set), :func:`score_shape` (an integer in a range) and :func:`scores_shape` (one
integer per row).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs
from attrs import field, frozen

__all__ = [
    "FieldKind",
    "ReplyField",
    "ReplyShape",
    "ShapeMismatch",
    "json_schema_format",
    "rewrite_shape",
    "score_shape",
    "scores_shape",
    "verdict_shape",
]

FieldKind = Literal["text", "choice", "integer", "integers"]
"""What a field holds: free text, one of ``choices``, an integer, or a list of integers."""

_DECODER = json.JSONDecoder()
_NAME = attrs.validators.matches_re(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _labels(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _field_tuple(value: Iterable[ReplyField]) -> tuple[ReplyField, ...]:
    return tuple(value)


def _check_field(instance: ReplyField, attribute: attrs.Attribute[Any], value: Any) -> None:
    if instance.kind == "choice" and not instance.choices:
        raise ValueError(f"reply field {instance.name!r}: a choice needs its choices")
    if instance.kind in ("integer", "integers") and (
        instance.minimum is None or instance.maximum is None or instance.minimum > instance.maximum
    ):
        raise ValueError(f"reply field {instance.name!r}: an integer needs minimum <= maximum")
    if instance.kind == "integers" and (instance.count is None or instance.count < 1):
        raise ValueError(f"reply field {instance.name!r}: a list of integers needs its count")


@frozen(kw_only=True)
class ReplyField:
    """One property of a reply: its ``name``, ``kind`` and limits.

    ``choices`` are the allowed labels of a ``choice``; ``minimum`` and ``maximum`` bound an
    ``integer`` (and each item of ``integers``, of which there are exactly ``count``). A
    ``text`` field may be blank only when ``blank`` is true (a plan the model may leave empty),
    and an ``optional`` one may be left out of a reply (the schema still lists it as required,
    as strict modes ask; a server that did not constrain may omit it). ``description`` is sent
    in the schema, as a hint to the model.
    """

    name: str = field(validator=_NAME)
    kind: FieldKind = field(
        validator=[attrs.validators.in_(("text", "choice", "integer", "integers")), _check_field]
    )
    choices: tuple[str, ...] = field(default=(), converter=_labels)
    minimum: int | None = None
    maximum: int | None = None
    count: int | None = None
    blank: bool = False
    optional: bool = False
    description: str = ""

    def schema(self) -> dict[str, Any]:
        """This field's JSON schema."""
        out: dict[str, Any]
        if self.kind == "text":
            out = {"type": "string"}
        elif self.kind == "choice":
            out = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "integer":
            out = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        else:
            item = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
            out = {"type": "array", "items": item, "minItems": self.count, "maxItems": self.count}
        if self.description:
            out["description"] = self.description
        return out

    def read(self, value: Any) -> Any | ShapeMismatch:
        """``value`` as this field holds it, or why it does not fit."""
        if self.kind == "text":
            if not isinstance(value, str):
                return ShapeMismatch("wrong_type", f"{self.name} is not a string")
            if not value.strip() and not self.blank:
                return ShapeMismatch("blank_field", f"{self.name} is blank")
            return value.strip()
        if self.kind == "choice":
            if value not in self.choices:
                return ShapeMismatch("not_allowed", f"{self.name} is {value!r}")
            return value
        if self.kind == "integer":
            return self._integer(value)
        if not isinstance(value, list):
            return ShapeMismatch("wrong_type", f"{self.name} is not a list")
        if len(value) != self.count:
            return ShapeMismatch("wrong_count", f"{self.name} has {len(value)} of {self.count}")
        items = [self._integer(item) for item in value]
        for item in items:
            if isinstance(item, ShapeMismatch):
                return item
        return items

    def _integer(self, value: Any) -> int | ShapeMismatch:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or not math.isfinite(value):
            return ShapeMismatch("wrong_type", f"{self.name} is not an integer")
        assert self.minimum is not None and self.maximum is not None
        if not self.minimum <= value <= self.maximum:
            return ShapeMismatch("out_of_range", f"{self.name} is {value}")
        return int(value)


@frozen
class ShapeMismatch:
    """Why a reply does not fit its shape: a short ``reason`` that is counted, and a ``detail``.

    Reasons: ``not_json``, ``not_an_object``, ``missing_field``, ``extra_field``, ``wrong_type``,
    ``blank_field``, ``not_allowed``, ``out_of_range`` and ``wrong_count``.
    """

    reason: str
    detail: str = ""


def _check_fields(
    instance: ReplyShape, attribute: attrs.Attribute[Any], value: tuple[ReplyField, ...]
) -> None:
    names = [f.name for f in value]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"reply shape {instance.name!r}: fields need distinct names")


@frozen
class ReplyShape:
    """A reply that is one JSON object with ``fields``, in that order (a plan before the
    rewrite, so the model writes the plan first). ``name`` names the schema for the backend."""

    name: str = field(validator=_NAME)
    fields: tuple[ReplyField, ...] = field(converter=_field_tuple, validator=_check_fields)

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the reply: every field required, nothing else allowed."""
        return {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            "required": [f.name for f in self.fields],
            "additionalProperties": False,
        }

    def read(self, reply: str) -> dict[str, Any] | ShapeMismatch:
        """The fields of ``reply`` (a JSON object, in a code fence or not; text after the
        object is ignored), or why it does not fit: not JSON, a field missing, one more, or one
        of the wrong type or out of its range."""
        text = reply.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            data, _ = _DECODER.raw_decode(text)
        except ValueError as exc:
            return ShapeMismatch("not_json", str(exc)[:200])
        if not isinstance(data, dict):
            return ShapeMismatch("not_an_object", type(data).__name__)
        extra = sorted(set(data) - {f.name for f in self.fields})
        if extra:
            return ShapeMismatch("extra_field", ", ".join(extra)[:200])
        out: dict[str, Any] = {}
        for spec in self.fields:
            if spec.name not in data:
                if spec.optional:
                    continue
                return ShapeMismatch("missing_field", spec.name)
            value = spec.read(data[spec.name])
            if isinstance(value, ShapeMismatch):
                return value
            out[spec.name] = value
        return out

    def example(self, **values: Any) -> str:
        """A reply of this shape with ``values`` (for worked examples in a prompt)."""
        return json.dumps({f.name: values[f.name] for f in self.fields}, ensure_ascii=False)


def json_schema_format(shape: ReplyShape) -> dict[str, Any]:
    """The OpenAI-style ``response_format`` that asks for a reply of ``shape``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": shape.name, "schema": shape.schema(), "strict": True},
    }


_PLAN = ReplyField(
    name="plan",
    kind="text",
    blank=True,
    optional=True,
    description="one short sentence: what you will change",
)


def rewrite_shape(*, with_input: bool = False) -> ReplyShape:
    """A rewrite after an optional short plan; ``with_input`` adds the rewritten input data."""
    rewrite = ReplyField(name="rewrite", kind="text", description="the new instruction")
    fields: list[ReplyField] = [_PLAN, rewrite]
    if with_input:
        fields.append(ReplyField(name="input", kind="text", description="the new data"))
    return ReplyShape("rewrite_with_input" if with_input else "rewrite", fields)


def verdict_shape(choices: Sequence[str], name: str = "verdict", reason: str = "") -> ReplyShape:
    """A label from ``choices`` (``Equal`` / ``Not Equal``), in the field ``verdict``; with
    ``reason`` (its description), a short ``reason`` written before the label."""
    label = ReplyField(name="verdict", kind="choice", choices=tuple(choices))
    if not reason:
        return ReplyShape(name, [label])
    why = ReplyField(name="reason", kind="text", blank=True, optional=True, description=reason)
    return ReplyShape(name, [why, label])


def score_shape(minimum: int, maximum: int, name: str = "score") -> ReplyShape:
    """An integer from ``minimum`` to ``maximum``, in the field ``score``."""
    return ReplyShape(
        name, [ReplyField(name="score", kind="integer", minimum=minimum, maximum=maximum)]
    )


def scores_shape(count: int, minimum: int, maximum: int, name: str = "scores") -> ReplyShape:
    """``count`` integers from ``minimum`` to ``maximum``, in order, in the field ``scores``."""
    spec = ReplyField(name="scores", kind="integers", minimum=minimum, maximum=maximum, count=count)
    return ReplyShape(name, [spec])
