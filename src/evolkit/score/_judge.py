"""Scores a model judges: difficulty, response quality, and complexity along a row's lineage.

Each prompt asks for a fixed reply form (``Score: N``, or ``[i] Score: N`` per version for a
lineage) and the reply is read strictly: a reply without exactly one readable score per item,
or with a score outside 1–10, is a :class:`~evolkit.ScoreFailure` with its reason, never a
default value. Requests use temperature 0 and a short ``max_tokens``, so a resumed or repeated
run asks the very same questions and is answered from the journal or the cache.

A backend that constrains replies (:class:`~evolkit._protocols.ConstrainedBackend`, with
``--structured`` on) is asked for a JSON object instead: ``{"score": N}`` with N an integer
from 1 to 10 (:func:`~evolkit._shapes.score_shape`), or ``{"scores": [N, ...]}`` with one per
version (:func:`~evolkit._shapes.scores_shape`); the last paragraph of the prompt then asks for
that form, and a reply that does not fit is a failure with the reason ``unfit_reply:<why>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from evolkit._markers import described, wrap
from evolkit._protocols import Backend, ConstrainedBackend
from evolkit._shapes import ReplyShape, ShapeMismatch, score_shape, scores_shape
from evolkit._types import ChatMessage, Instruction, ScoreFailure, ScoreItem

__all__ = [
    "COMPLEXITY_TEMPLATE",
    "DIFFICULTY_TEMPLATE",
    "JUDGE_SYSTEM",
    "QUALITY_TEMPLATE",
    "SCORE_SHAPE",
    "ChainComplexityScorer",
    "DifficultyScorer",
    "QualityScorer",
    "parse_chain_scores",
    "parse_score",
]

SCALE = (1, 10)

JUDGE_SYSTEM = (
    "You are a careful grader of instruction-tuning data. You answer only in the exact form "
    "you are asked for."
)

DIFFICULTY_TEMPLATE = """Rate how difficult and complex the instruction below is to carry out \
well, on a scale from 1 to 10.

1: a trivial request, answered correctly in a sentence by almost anyone.
4: it needs a few steps, some background knowledge, or care with one constraint.
7: it needs several steps of reasoning, real expertise, or several constraints at once.
10: an expert would need long, careful work to get every part right.

{instruction}

Reply with one line in exactly this form: Score: N"""

QUALITY_TEMPLATE = """Rate the quality of the response to the instruction below, on a scale \
from 1 to 10. Judge whether it does what was asked, whether it is correct, and whether it is \
complete, clear and useful.

1: wrong, off-topic, a refusal or empty.
4: partly right, but with errors or missing what was asked.
7: correct and useful, with small gaps.
10: correct, complete and as helpful as an expert's answer.

{instruction}

{response}

Reply with one line in exactly this form: Score: N"""

COMPLEXITY_TEMPLATE = """Below are {count} versions of one instruction. Each was rewritten from \
the version before it, so together they show how the instruction evolved. Rate the complexity of \
each version on a scale from 1 to 10 (1: trivial, 10: demanding expert work). Judge them \
against one another: a version that asks for more than the one before it gets a higher score, \
one that asks for less or the same gets a lower or equal score.

{versions}

Reply with one line per version, in order, in exactly this form:
{form}"""

_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
_CLEAN = re.compile(r"[*_`#]")
_SCORE = re.compile(rf"\bscore\s*[:=]\s*{_NUMBER}(?:\s*/\s*10)?", re.IGNORECASE)
_BARE = re.compile(rf"^\s*{_NUMBER}(?:\s*/\s*10)?\s*\.?\s*$")
_CHAIN = re.compile(
    rf"^\s*\[?(\d{{1,3}})[\].):]\s*(?:score\s*[:=]\s*)?{_NUMBER}(?:\s*/\s*10)?\s*\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def _in_scale(value: float) -> bool:
    return SCALE[0] <= value <= SCALE[1]


def parse_score(reply: str) -> float | ScoreFailure:
    """The one 1–10 score in ``reply`` (``Score: 7``, ``**Score:** 7/10`` or a bare ``7``).

    Markdown does not matter. A reply with no score, with two different scores, or with a score
    outside 1–10 is a failure with the reason ``unparseable``, ``ambiguous`` or ``out_of_range``.
    """
    text = _CLEAN.sub("", reply)
    found = {float(m) for m in _SCORE.findall(text)}
    if not found:
        bare = _BARE.match(text)
        if bare is None:
            return ScoreFailure("unparseable", reply[:200])
        found = {float(bare.group(1))}
    if len(found) > 1:
        return ScoreFailure("ambiguous", reply[:200])
    value = found.pop()
    if not _in_scale(value):
        return ScoreFailure("out_of_range", reply[:200])
    return value


def parse_chain_scores(reply: str, count: int) -> list[float] | ScoreFailure:
    """One 1–10 score per version ``[1]`` … ``[count]`` from ``reply``, in order.

    Every version must be scored exactly once and no other index may appear; anything else is
    a failure (``unparseable``, ``wrong_count``, ``ambiguous`` or ``out_of_range``).
    """
    text = _CLEAN.sub("", reply)
    matches = _CHAIN.findall(text)
    if not matches:
        return ScoreFailure("unparseable", reply[:200])
    scores: dict[int, float] = {}
    for raw_index, raw_value in matches:
        index, value = int(raw_index), float(raw_value)
        if index in scores and scores[index] != value:
            return ScoreFailure("ambiguous", reply[:200])
        scores[index] = value
    if sorted(scores) != list(range(1, count + 1)):
        return ScoreFailure("wrong_count", reply[:200])
    if not all(_in_scale(v) for v in scores.values()):
        return ScoreFailure("out_of_range", reply[:200])
    return [scores[i] for i in range(1, count + 1)]


#: The reply of a difficulty or quality score when replies are constrained.
SCORE_SHAPE = score_shape(SCALE[0], SCALE[1])


def _constrainer(backend: Backend) -> ConstrainedBackend | None:
    if isinstance(backend, ConstrainedBackend) and backend.constrains:
        return backend
    return None


def _json_form(messages: list[ChatMessage], shape: ReplyShape, example: str) -> list[ChatMessage]:
    """``messages`` with the last paragraph of the user turn (the reply form) asking for
    ``example``, a JSON object of ``shape``."""
    head, _, _ = messages[-1]["content"].rpartition("\n\n")
    form = f"Reply with only a JSON object of this form: {example}"
    return [*messages[:-1], {"role": "user", "content": f"{head}\n\n{form}"}]


async def _ask_score(
    backend: Backend, messages: list[ChatMessage], params: Mapping[str, Any]
) -> float | ScoreFailure:
    """One 1-10 score: read from text, or as JSON of :data:`SCORE_SHAPE` when constrained."""
    shaped = _constrainer(backend)
    if shaped is None:
        return parse_score((await backend.complete(messages, **params)).text)
    asked = _json_form(messages, SCORE_SHAPE, '{"score": N}')
    reply = await backend.complete(asked, **{**params, **shaped.constraint(SCORE_SHAPE)})
    fields = SCORE_SHAPE.read(reply.text)
    if isinstance(fields, ShapeMismatch):
        return ScoreFailure(f"unfit_reply:{fields.reason}", reply.text[:200])
    return float(fields["score"])


def _messages(content: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": content},
    ]


def _params(max_tokens: int) -> dict[str, Any]:
    return {"temperature": 0.0, "max_tokens": max_tokens}


@frozen(kw_only=True)
class DifficultyScorer:
    """Difficulty and complexity of the instruction, 1–10, judged by the model."""

    name: str = "difficulty"
    template: str = field(default=DIFFICULTY_TEMPLATE)
    params: Mapping[str, Any] = field(factory=lambda: _params(16), converter=dict)
    needs_model: bool = True

    def messages(self, item: ScoreItem) -> list[ChatMessage]:
        return _messages(self.template.format(instruction=wrap("instruction", described(item.row))))

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        return await _ask_score(backend, self.messages(item), self.params)


@frozen(kw_only=True)
class QualityScorer:
    """Quality of the row's response to its instruction, 1–10, judged by the model."""

    name: str = "quality"
    template: str = field(default=QUALITY_TEMPLATE)
    params: Mapping[str, Any] = field(factory=lambda: _params(16), converter=dict)
    needs_model: bool = True

    def messages(self, item: ScoreItem) -> list[ChatMessage]:
        row = item.row
        return _messages(
            self.template.format(
                instruction=wrap("instruction", described(row)),
                response=wrap("response", row.response or ""),
            )
        )

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        if not (item.row.response or "").strip():
            return ScoreFailure("no_response")
        return await _ask_score(backend, self.messages(item), self.params)


@frozen(kw_only=True)
class ChainComplexityScorer:
    """Complexity of a row judged together with its ancestors in one prompt (evolution-aware).

    The model sees the whole chain from the seed to the row and scores every version against
    the others; the row's score is the last one. ``max_versions`` keeps the prompt short: the
    seed and the nearest ancestors are shown when the chain is longer.
    """

    name: str = "complexity"
    template: str = field(default=COMPLEXITY_TEMPLATE)
    max_versions: int = 6
    tokens_per_version: int = 12
    needs_model: bool = True

    def chain(self, item: ScoreItem) -> tuple[Instruction, ...]:
        chain = item.chain
        if len(chain) > self.max_versions:
            chain = (chain[0], *chain[len(chain) - self.max_versions + 1 :])
        return chain

    def messages(self, item: ScoreItem) -> list[ChatMessage]:
        chain = self.chain(item)
        versions = "\n\n".join(
            f"[{i}]\n{wrap('instruction', described(inst))}" for i, inst in enumerate(chain, 1)
        )
        form = "\n".join(f"[{i}] Score: N" for i in range(1, len(chain) + 1))
        return _messages(self.template.format(count=len(chain), versions=versions, form=form))

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        count = len(self.chain(item))
        params = _params(self.tokens_per_version * count)
        shaped = _constrainer(backend)
        if shaped is None:
            reply = await backend.complete(self.messages(item), **params)
            scores = parse_chain_scores(reply.text, count)
            return scores if isinstance(scores, ScoreFailure) else scores[-1]
        shape = scores_shape(count, SCALE[0], SCALE[1])
        example = '{"scores": [' + ", ".join(["N"] * count) + "]}"
        messages = _json_form(self.messages(item), shape, example)
        reply = await backend.complete(messages, **{**params, **shaped.constraint(shape)})
        fields = shape.read(reply.text)
        if isinstance(fields, ShapeMismatch):
            return ScoreFailure(f"unfit_reply:{fields.reason}", reply.text[:200])
        return float(fields["scores"][-1])
