"""Seed layouts known by name, found from a row's keys, and the mapping of a row to an
:class:`~evolkit.Instruction`.

A layout names where a row keeps the instruction, its input, its answer and its id. Keys are
matched without regard to case (``Instruction`` is ``instruction``). A row fits every layout
whose required keys it has; the one that explains most of its keys wins, and a tie is an error
that lists the keys and the flags that settle it. ``fields`` (``--field ROLE=PATH``) names keys
explicitly, with dotted paths into nested values (``instances.0.input``). Keys that no role
uses are kept in the row's metadata.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from attrs import frozen

from evolkit._registry import by_name
from evolkit._types import Instruction

__all__ = ["LAYOUTS", "ROLES", "Layout", "LayoutError", "RowMapper", "parse_fields"]

ROLES = ("instruction", "input", "response", "id")
_LINEAGE = ("parent_id", "operator", "round", "metadata")


class LayoutError(ValueError):
    """A row fits no layout, or several equally; the message lists its keys and the fix."""


@frozen
class Layout:
    """Where a layout keeps each role: dotted paths on lower-case key names.

    A ``chat`` layout keeps a list of turns under ``paths["instruction"]``; ``turn`` names the
    speaker and text keys of a turn, and ``users``/``assistants`` the speaker names.
    """

    name: str
    required: tuple[str, ...]
    paths: Mapping[str, str]
    chat: tuple[str, str] | None = None
    users: tuple[str, ...] = ()
    assistants: tuple[str, ...] = ()
    fallback: bool = False

    @property
    def keys(self) -> set[str]:
        return {path.split(".")[0] for path in self.paths.values()} | set(self.required)


LAYOUTS: dict[str, Layout] = by_name(
    Layout(
        "alpaca",
        ("instruction",),
        {"instruction": "instruction", "input": "input", "response": "output"},
    ),
    Layout(
        "self-instruct",
        ("instruction", "instances"),
        {
            "instruction": "instruction",
            "input": "instances.0.input",
            "response": "instances.0.output",
        },
    ),
    Layout(
        "dolly",
        ("instruction", "response"),
        {"instruction": "instruction", "input": "context", "response": "response"},
    ),
    Layout("prompt/completion", ("prompt",), {"instruction": "prompt", "response": "completion"}),
    Layout(
        "prompt/response",
        ("prompt", "response"),
        {"instruction": "prompt", "response": "response"},
    ),
    Layout("question/answer", ("question",), {"instruction": "question", "response": "answer"}),
    Layout(
        "messages",
        ("messages",),
        {"instruction": "messages", "input": "input"},
        chat=("role", "content"),
        users=("user",),
        assistants=("assistant",),
    ),
    Layout(
        "sharegpt",
        ("conversations",),
        {"instruction": "conversations", "input": "input"},
        chat=("from", "value"),
        users=("human", "user"),
        assistants=("gpt", "assistant", "chatgpt", "model", "bard", "bing"),
    ),
    Layout("text", ("text",), {"instruction": "text"}, fallback=True),
)


def parse_fields(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["instruction=Question", "input=ctx"]`` or a mapping, checked against :data:`ROLES`."""
    if items is None:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(items, Mapping):
        pairs = [(str(k), str(v)) for k, v in items.items()]
    elif isinstance(items, str):
        raise LayoutError(f"fields={items!r}: pass a mapping, e.g. {{'instruction': 'question'}}")
    else:
        for item in items:
            role, sep, path = item.partition("=")
            if not sep or not path.strip():
                raise LayoutError(f"--field {item!r}: write ROLE=KEY, e.g. instruction=question")
            pairs.append((role, path))
    out: dict[str, str] = {}
    for role, path in pairs:
        role = role.strip().lower()
        if role not in ROLES:
            raise LayoutError(f"unknown field role {role!r}: use one of {', '.join(ROLES)}")
        out[role] = path.strip()
    return out


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: numpy and pandas scalars unwrapped, NaN as null, dates as text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    for method in ("tolist", "isoformat"):  # numpy arrays and scalars; dates and times
        convert = getattr(type(value), method, None)
        if callable(convert):
            return jsonable(convert(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _step(node: Any, segment: str) -> tuple[bool, Any]:
    if isinstance(node, Mapping):
        if segment in node:
            return True, node[segment]
        for key in node:
            if isinstance(key, str) and key.lower() == segment.lower():
                return True, node[key]
        return False, None
    if isinstance(node, (list, tuple)) and segment.isdigit():
        index = int(segment)
        return (True, node[index]) if index < len(node) else (False, None)
    return False, None


def resolve(row: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """The value at dotted ``path`` (case-insensitive keys, numbers index lists)."""
    if path in row:  # the common case: a top-level key spelt as in the row
        return True, row[path]
    node: Any = row
    for segment in path.split("."):
        found, node = _step(node, segment)
        if not found:
            return False, None
    return True, node


@frozen
class _Plan:
    """How the rows with one set of keys map: the layout, each role's path, the keys used."""

    layout: str
    paths: Mapping[str, str]
    used: frozenset[str]
    chat: Layout | None = None
    rest: tuple[str, ...] = ()  # the keys that go to metadata as they are

    @property
    def nested(self) -> bool:
        return any("." in path for path in self.paths.values())

    @property
    def id_elsewhere(self) -> bool:
        return self.paths.get("id", "id").lower() != "id"


def _lower_keys(keys: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in keys:
        found.setdefault(key.lower(), []).append(key)
    return found


def _keys_text(keys: Sequence[str]) -> str:
    return ", ".join(repr(k) for k in keys) or "none"


def _detect(keys: Sequence[str], explicit: Mapping[str, str]) -> Layout:
    """The layout the keys fit best (keys named by explicit fields left out)."""
    taken = {path.split(".")[0].lower() for path in explicit.values()}
    lower = {k: v for k, v in _lower_keys(keys).items() if k not in taken}
    fits = [lay for lay in LAYOUTS.values() if all(r in lower for r in lay.required)]
    if not any(not lay.fallback for lay in fits):
        fits = [lay for lay in fits if lay.fallback]
    else:
        fits = [lay for lay in fits if not lay.fallback]
    if not fits:
        raise LayoutError(
            f"no known layout fits a row with keys {_keys_text(keys)}: name the instruction's "
            "key with --field instruction=KEY (fields={'instruction': 'KEY'} in Python)"
        )
    scores = {lay.name: len(lay.keys & set(lower)) for lay in fits}
    best = max(scores.values())
    winners = [name for name, score in scores.items() if score == best]
    if len(winners) > 1:
        raise LayoutError(
            f"a row with keys {_keys_text(keys)} fits layouts {' and '.join(winners)} equally: "
            f"choose one with --layout {winners[0]} (layout='{winners[0]}' in Python), or map "
            "the keys with --field instruction=KEY --field response=KEY"
        )
    layout = LAYOUTS[winners[0]]
    for key in layout.keys:
        if len(lower.get(key, [])) > 1:
            raise LayoutError(
                f"a row has keys {_keys_text(lower[key])} that differ only in case: "
                f"name the one to use with --field (e.g. --field instruction={lower[key][0]})"
            )
    return layout


def _plan(keys: Sequence[str], explicit: Mapping[str, str], forced: str | None) -> _Plan:
    if "instruction" in explicit and forced is None:
        paths = dict(explicit)
        return _Plan("fields", paths, frozenset(p.split(".")[0].lower() for p in paths.values()))
    layout = LAYOUTS[forced] if forced is not None else _detect(keys, explicit)
    paths = {**layout.paths, **explicit}
    used = {p.split(".")[0].lower() for p in paths.values()} | set(layout.required)
    name = layout.name if not explicit else f"{layout.name} with fields"
    return _Plan(name, paths, frozenset(used), layout if layout.chat else None)


def _text(value: Any, role: str) -> str | None:
    """A role's value as text: a string, or the right turn of a chat-style list."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, Mapping) for m in value):
        wanted = ("user",) if role == "instruction" else ("assistant",)
        turns = [m.get("content") for m in value if m.get("role") in wanted]
        picked = turns[-1] if role == "instruction" and turns else (turns[0] if turns else None)
        if isinstance(picked, str):
            return picked
    if isinstance(value, (int, float)) and not isinstance(value, bool) and role != "instruction":
        return str(value)
    raise LayoutError(f"the {role} must be text, found {type(value).__name__}: {value!r:.60}")


def _chat_roles(turns: Any, layout: Layout) -> tuple[str | None, str | None, str | None, bool]:
    """(system, first user text, the answer to it, whether every turn was used)."""
    if not isinstance(turns, list):
        raise LayoutError(f"{layout.paths['instruction']!r} must be a list of turns")
    speaker, content = layout.chat or ("role", "content")
    system = user = answer = None
    used = 0
    for turn in turns:
        if not isinstance(turn, Mapping):
            raise LayoutError(f"each turn of {layout.paths['instruction']!r} must be an object")
        who, text = str(turn.get(speaker, "")).lower(), turn.get(content)
        if who == "system" and system is None and user is None:
            system, used = text, used + 1
        elif who in layout.users and user is None:
            user, used = text, used + 1
        elif who in layout.assistants and user is not None and answer is None:
            answer, used = text, used + 1
    if user is None:
        raise LayoutError(f"{layout.paths['instruction']!r} has no {layout.users[0]!r} turn")
    return system, user, answer, used == len(turns)


class RowMapper:
    """Maps rows to instructions with one ``fields`` mapping (or ``layout``) for all of them,
    and counts the layouts it used, for the line a run prints at its start."""

    def __init__(
        self, fields: Mapping[str, str] | Iterable[str] | None = None, layout: str | None = None
    ) -> None:
        if layout is not None and layout not in LAYOUTS:
            raise LayoutError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        self.fields = parse_fields(fields)
        self.layout = layout
        self.counts: Counter[str] = Counter()
        self.extras: dict[str, set[str]] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._shown: dict[str, Mapping[str, str]] = {}

    def plan(self, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get(keys)
        if plan is None:
            plan = _plan(keys, self.fields, self.layout)
            rest = [k for k in keys if k.lower() not in plan.used and k not in ("id", *_LINEAGE)]
            plan = attrs.evolve(plan, rest=tuple(rest))
            if len(self._plans) < 1024:
                self._plans[keys] = plan
            self._shown.setdefault(plan.layout, plan.paths)
            extra = {k for k in keys if k.lower() not in plan.used and k not in _LINEAGE}
            self.extras.setdefault(plan.layout, set()).update(extra - {"id"})
        return plan

    def instruction(self, row: Mapping[str, Any]) -> Instruction:
        """The instruction a row holds; unused keys go into its metadata."""
        if not isinstance(row, Mapping):
            raise LayoutError(f"expected an object (a mapping), got {type(row).__name__}")
        plan = self.plan(tuple(row))
        self.counts[plan.layout] += 1
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if plan.chat is not None:
            found, turns = resolve(row, plan.paths["instruction"])
            system, user, answer, whole = _chat_roles(turns, plan.chat)
            values["instruction"], values["response"] = user, answer
            if system is not None:
                extra["system"] = system
            if not whole:
                extra[plan.paths["instruction"]] = turns
        for role, path in plan.paths.items():
            if role in values:
                continue
            found, value = resolve(row, path)
            if found:
                values[role] = _text(value, role) if role != "id" else value
        return _build(row, plan, values, extra)

    def describe(self) -> str:
        """One line: the layout(s) used, where each role came from, what went to metadata."""
        parts = []
        for name, count in self.counts.most_common():
            roles = ", ".join(f"{role} ← {path}" for role, path in self._shown[name].items())
            kept = sorted(self.extras.get(name, ()))
            text = f"{name} ({roles}"
            text += f"; kept in metadata: {', '.join(kept)})" if kept else ")"
            if len(self.counts) > 1:
                text += f" for {count} rows"
            parts.append(text)
        return "layout " + "; ".join(parts) if parts else "no rows"


def _build(
    row: Mapping[str, Any], plan: _Plan, values: Mapping[str, Any], extra: dict[str, Any]
) -> Instruction:
    text = values.get("instruction")
    if not isinstance(text, str) or not text.strip():
        raise LayoutError(
            f"the instruction ({plan.paths.get('instruction')}) is missing or blank in a row "
            f"with keys {_keys_text(list(row))}"
        )
    kwargs: dict[str, Any] = {"text": text}
    if values.get("input") is not None:
        kwargs["input"] = values["input"]
    if values.get("response") is not None:
        kwargs["response"] = values["response"]
    if plan.chat is not None and kwargs.get("input"):
        suffix = "\n\n" + kwargs["input"]
        if text.endswith(suffix):  # evolkit's own chat rows put the input after the text
            kwargs["text"] = text[: -len(suffix)]
    row_id = values.get("id", row.get("id"))
    if isinstance(row_id, (str, int)) and not isinstance(row_id, bool) and str(row_id).strip():
        kwargs["id"] = str(row_id)
    elif row_id is not None:
        extra["id"] = row_id
    own = row.get("metadata")
    metadata = dict(own) if isinstance(own, Mapping) else {}
    if own is not None and not isinstance(own, Mapping):
        extra["metadata"] = own
    for key in ("parent_id", "operator", "round"):
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, int if key == "round" else str) and not isinstance(value, bool):
            kwargs[key] = value
        else:  # a foreign 'round' or 'operator' of another type: kept, not read as lineage
            extra[key] = value
    if plan.id_elsewhere and "id" in row:
        extra.setdefault("id", row["id"])
    for key in plan.rest:
        metadata.setdefault(key, row[key])
    for key, value in extra.items():
        metadata.setdefault(key, value)
    if plan.nested:
        for key, value in _partly_used(row, plan.paths.values()).items():
            metadata.setdefault(key, value)
    kwargs["metadata"] = _clean(metadata)
    return Instruction(**kwargs)


_PLAIN = (str, int, bool, type(None))


def _clean(metadata: Mapping[str, Any]) -> dict[str, Any]:
    if all(type(v) in _PLAIN for v in metadata.values()):
        return dict(metadata)
    try:
        json.dumps(metadata, allow_nan=False)
        return dict(metadata)
    except (TypeError, ValueError):
        return {str(k): jsonable(v) for k, v in metadata.items()}


def _partly_used(row: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """Top-level values that dotted paths used only in part (a second Self-Instruct
    instance): kept whole, so nothing of the row is lost."""
    nested: dict[str, list[list[str]]] = {}
    for path in paths:
        head, *rest = path.split(".")
        if rest:
            nested.setdefault(head.lower(), []).append(rest)
    kept: dict[str, Any] = {}
    for key, value in row.items():
        subpaths = nested.get(key.lower())
        if subpaths and not _covered(value, subpaths):
            kept[key] = value
    return kept


def _covered(value: Any, subpaths: list[list[str]]) -> bool:
    """Whether the leaves at ``subpaths`` are all there is in ``value``."""
    if any(not p for p in subpaths):
        return True
    children: dict[str, list[list[str]]] = {}
    for head, *rest in subpaths:
        children.setdefault(head.lower(), []).append(rest)
    if isinstance(value, Mapping):
        items = [(str(k).lower(), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return False
    return all(k in children and _covered(v, children[k]) for k, v in items)
