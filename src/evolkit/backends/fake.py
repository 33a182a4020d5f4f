"""A fake model for tests and demos: scripted replies, or replies computed from the prompt."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evolkit._markers import (
    INPUT_TAG,
    INSTRUCTION_TAG,
    JUDGE_TAGS,
    REWRITE_TAG,
    SCORE_FORM,
    between,
    wrap,
)
from evolkit._types import ChatMessage, Completion, Usage
from evolkit.errors import ModelError

__all__ = ["FakeBackend", "Reply", "default_reply"]

Reply = str | Completion | BaseException
Handler = Callable[[Sequence[ChatMessage]], Reply]

_ADDITIONS = (
    "Answer in no more than 120 words.",
    "Include one concrete example with numbers.",
    "Justify each step of your reasoning.",
    "Compare two different approaches before choosing one.",
    "State every assumption you make.",
    "Give the result as a short table.",
    "Mention one common mistake to avoid.",
    "Explain it so a twelve-year-old could follow.",
    "Add a final one-sentence summary.",
    "Consider what changes if the main quantity doubles.",
    "Use only plain language, no jargon.",
    "Point out one limitation of your answer.",
)

_WORDS = (  # noqa: SIM905 - a sentence reads better than a list of words
    "first consider the question carefully then break it into smaller parts each part gets "
    "a clear explanation with an example and a check that the result makes sense overall the "
    "answer combines these parts into one coherent solution that a reader can verify step by "
    "step using the facts given in the task and simple reasoning about them"
).split()


def _pick(seed_text: str, n: int) -> int:
    return int.from_bytes(hashlib.blake2b(seed_text.encode(), digest_size=4).digest(), "big") % n


def _additions(prompt: str) -> str:
    """Two different requirements from ``_ADDITIONS``, picked by hashing ``prompt``."""
    n = len(_ADDITIONS)
    first = _pick(prompt, n)
    second = (first + 1 + _pick(prompt[::-1], n - 1)) % n
    return f"{_ADDITIONS[first]} {_ADDITIONS[second]}"


def default_reply(messages: Sequence[ChatMessage]) -> str:
    """The default fake model: rewrites, judges and answers in a deterministic way.

    - a rewrite request (the prompt mentions ``<rewrite>``) gets the instruction back with two
      extra requirements, chosen by hashing the whole prompt: 11 to 17 words, inside the 10 to
      20 the depth prompts ask for;
    - an equality judgement (``<first>`` and ``<second>``) gets ``Not Equal``;
    - a score request (it asks for ``Score: N``) gets a score that grows with the length of
      what is scored: one ``[i] Score: N`` line per version for a lineage, else ``Score: N``;
    - anything else gets a fluent, deterministic answer of about 90 words.

    A request for a JSON reply (``--structured``: the prompt asks for a JSON object, or the
    judge's worked examples are answered in JSON) gets the same answer as that JSON object.
    """
    prompt = "\n".join(m["content"] for m in messages)
    user = messages[-1]["content"] if messages else ""
    if _JSON_ASK in user or any(
        m["role"] == "assistant" and m["content"].startswith("{") for m in messages
    ):
        return _json_reply(messages, prompt, user)
    if f"<{REWRITE_TAG}>" in prompt:
        original = between(INSTRUCTION_TAG, user) or user.strip()
        return wrap(REWRITE_TAG, f"{original} {_additions(prompt)}")
    if all(f"<{tag}>" in user for tag in JUDGE_TAGS):
        return "Not Equal"
    if SCORE_FORM in user:
        return _score_reply(user)
    topic = " ".join(user.split()[:12])
    start = _pick(user, len(_WORDS))
    body = " ".join(_WORDS[(start + i) % len(_WORDS)] for i in range(80))
    return f"Here is an answer to: {topic}\n\n{body.capitalize()}."


_JSON_ASK = "Reply with only a JSON object"


def _json_reply(messages: Sequence[ChatMessage], prompt: str, user: str) -> str:
    """:func:`default_reply` as the JSON object the structured prompts ask for."""
    if all(f"<{tag}>" in user for tag in JUDGE_TAGS):
        return json.dumps({"verdict": "Not Equal"})
    if '"scores"' in user:
        blocks = re.findall(rf"<{INSTRUCTION_TAG}>(.*?)</{INSTRUCTION_TAG}>", user, re.DOTALL)
        return json.dumps({"scores": [_length_score(b) for b in blocks]})
    if '"score"' in user:
        blocks = re.findall(rf"<{INSTRUCTION_TAG}>(.*?)</{INSTRUCTION_TAG}>", user, re.DOTALL)
        return json.dumps({"score": _length_score(" ".join(blocks) or user)})
    original = between(INSTRUCTION_TAG, user) or user.strip()
    reply = {"plan": "Add two requirements.", "rewrite": f"{original} {_additions(prompt)}"}
    if '"input"' in user:
        reply["input"] = (between(INPUT_TAG, user) or "") + " 7"
    return json.dumps(reply, ensure_ascii=False)


def _length_score(text: str) -> int:
    return max(1, min(10, 1 + len(text.split()) // 8))


def _score_reply(user: str) -> str:
    blocks = re.findall(rf"<{INSTRUCTION_TAG}>(.*?)</{INSTRUCTION_TAG}>", user, flags=re.DOTALL)
    if f"[1] {SCORE_FORM}" in user:
        return "\n".join(f"[{i}] Score: {_length_score(b)}" for i, b in enumerate(blocks, 1))
    return f"Score: {_length_score(' '.join(blocks) or user)}"


class FakeBackend:
    """A :class:`evolkit.Backend` that never touches a model, like ``httpx.MockTransport``.

    Give it a ``handler`` that computes a reply from the messages, or a list of ``replies``
    returned in turn (an exception in either is raised from ``complete``). Every call's messages
    and parameters are recorded in ``calls`` (``record=False`` keeps only the count, for long
    runs).

    >>> backend = FakeBackend(replies=["<rewrite>Sum 2 and 3, then double it.</rewrite>"])
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        replies: Iterable[Reply] | None = None,
        model: str = "fake/model",
        latency: float = 0.0,
        record: bool = True,
    ) -> None:
        if handler is not None and replies is not None:
            raise ValueError("give FakeBackend a handler or replies, not both")
        self.model = model
        self.latency = latency
        self.record = record
        self.count = 0
        self.calls: list[tuple[list[ChatMessage], dict[str, Any]]] = []
        self._replies = list(replies) if replies is not None else None
        self._handler: Handler = handler if handler is not None else default_reply

    @classmethod
    def default(
        cls, model: str = "fake/default", latency: float = 0.0, record: bool = True
    ) -> FakeBackend:
        """The fake that follows evolkit's built-in prompts (see :func:`default_reply`)."""
        return cls(default_reply, model=model, latency=latency, record=record)

    def __repr__(self) -> str:
        return f"FakeBackend(model={self.model!r}, calls={self.count})"

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        self.count += 1
        if self.record:
            self.calls.append((list(messages), dict(params)))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._replies is not None:
            if not self._replies:
                raise ModelError("FakeBackend ran out of scripted replies", kind="script")
            reply: Reply = self._replies.pop(0)
        else:
            reply = self._handler(messages)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, Completion):
            return reply
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(
            text=reply,
            usage=Usage(prompt_tokens, len(reply.split()), 0.0),
            model=self.model,
            finish_reason="stop",
        )
