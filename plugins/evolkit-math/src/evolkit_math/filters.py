"""Filters for math problems: a final answer in the fixed form, and answers that agree.

- ``math.final_answer`` drops a problem whose response has no final answer
  (``no_final_answer``: no ``The answer is``, ``####``, ``\\boxed{}`` or number on the last
  line), or announces one that is not a number (``answer_not_numeric``).
- ``math.self_consistency`` solves the problem ``k`` times and keeps it only when a majority of
  the solutions reach the same final answer (``majority_agrees``); otherwise it drops it with
  ``no_answer`` (no solution gave a final answer), ``no_majority``, or ``response_disagrees``
  (the candidate's own response has a different final answer than the majority).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import attrs
from attrs import field, frozen
from evolkit import Backend, ChatMessage, Instruction, Verdict

from evolkit_math import prompts
from evolkit_math.answers import answer_text, final_answer, read_answer

__all__ = ["FinalAnswerFilter", "SelfConsistencyFilter", "Vote", "verdict_with_metadata"]

_VERDICT_HAS_METADATA = "metadata" in attrs.fields_dict(Verdict)


def verdict_with_metadata(
    keep: bool, reason: str, filter: str, metadata: dict[str, Any]
) -> Verdict:
    """A verdict that carries ``metadata`` for the kept instruction where evolkit supports it.

    Older evolkit versions have no ``Verdict.metadata``; there the metadata is left out.
    """
    kwargs: dict[str, Any] = {"keep": keep, "reason": reason, "filter": filter}
    if _VERDICT_HAS_METADATA:
        kwargs["metadata"] = metadata
    return Verdict(**kwargs)


@frozen(kw_only=True)
class FinalAnswerFilter:
    """Keeps a problem only when its response has a numeric final answer.

    The answer is read as :func:`evolkit_math.answers.read_answer` reads it: after ``The answer
    is`` or ``####``, in ``\\boxed{}``, or as a number on the last line; the layer it came
    from is recorded as ``metadata["answer_form"]``.

    A candidate without a response is kept (``no_response``); the engine runs this filter only
    when it generates responses.
    """

    name: str = "math.final_answer"
    needs_response: bool = True

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a response without a numeric final answer in the fixed form."""
        if candidate.response is None:
            return Verdict.kept(self.name, "no_response")
        found = read_answer(candidate.response)
        if found is None or found.value is None:
            if answer_text(candidate.response) is not None:
                return Verdict.dropped(self.name, "answer_not_numeric")
            return Verdict.dropped(self.name, "no_final_answer")
        return Verdict.kept(self.name, metadata={"answer_form": found.layer})


@frozen
class Vote:
    """The final answers of ``k`` solutions and the most common one."""

    answers: tuple[str | None, ...]
    answer: str | None
    votes: int

    @property
    def samples(self) -> int:
        return len(self.answers)


def _majority(answers: tuple[str | None, ...]) -> Vote:
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return Vote(answers, None, 0)
    # Ties go to the answer seen first, so the result does not depend on hashing.
    best = max(counts.values())
    winner = next(a for a in answers if a is not None and counts[a] == best)
    return Vote(answers, winner, best)


def _at_least_one(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


def _votes_within_k(
    instance: SelfConsistencyFilter, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and not 1 <= value <= instance.k:
        raise ValueError(f"min_votes must be between 1 and k={instance.k}, got {value}")


@frozen(kw_only=True)
class SelfConsistencyFilter:
    """Solves the problem ``k`` times; keeps it when at least ``min_votes`` answers agree.

    ``min_votes`` defaults to a strict majority, ``k // 2 + 1``. The ``k`` requests differ, so
    that neither the run's journal nor the response cache answers them all with one reply: each
    is sampled at ``temperature``, and the sample number goes either into the sampling
    parameter named ``seed_param`` (``"seed"`` for OpenAI-compatible servers and vLLM) or, by
    default (``seed_param=None``, which every provider accepts), into the prompt.

    With ``check_response`` (the default), a candidate whose own response ends with a final
    answer different from the majority's is dropped as well.

    The agreed answer is attached to the verdict as ``{"answer": ..., "answer_votes": ...,
    "answer_samples": ...}`` where evolkit's :class:`~evolkit.Verdict` carries metadata;
    :meth:`vote` returns it directly.
    """

    name: str = "math.self_consistency"
    needs_response: bool = False
    calls_model: bool = True
    k: int = field(default=5, validator=_at_least_one)
    min_votes: int | None = field(default=None, validator=_votes_within_k)
    temperature: float = 0.7
    max_tokens: int = field(default=1024, validator=_at_least_one)
    seed_param: str | None = None
    check_response: bool = True
    system: str = field(default=prompts.SOLVE_SYSTEM, repr=False)
    template: str = field(default=prompts.SOLVE, repr=False)

    @property
    def needed(self) -> int:
        """How many solutions must agree."""
        return self.min_votes if self.min_votes is not None else self.k // 2 + 1

    def messages(self, candidate: Instruction, sample: int) -> list[ChatMessage]:
        """The request for solution number ``sample`` (0-based) of ``candidate``."""
        user = self.template.replace("{problem}", candidate.user_message())
        if self.seed_param is None:
            user = f"(Solution {sample + 1} of {self.k}, worked out independently.)\n\n{user}"
        return [
            ChatMessage(role="system", content=self.system),
            ChatMessage(role="user", content=user),
        ]

    def params(self, sample: int) -> dict[str, Any]:
        """The sampling parameters of solution number ``sample``."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed_param is not None:
            params[self.seed_param] = sample
        return params

    async def vote(self, candidate: Instruction, backend: Backend) -> Vote:
        """Ask ``backend`` for ``k`` solutions and count their final answers."""
        completions = await asyncio.gather(
            *(
                backend.complete(self.messages(candidate, i), **self.params(i))
                for i in range(self.k)
            )
        )
        return _majority(tuple(final_answer(c.text) for c in completions))

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Keep the problem when at least :attr:`needed` of ``k`` solutions agree."""
        vote = await self.vote(candidate, backend)
        if vote.answer is None:
            return Verdict.dropped(self.name, "no_answer")
        if vote.votes < self.needed:
            return Verdict.dropped(self.name, "no_majority")
        if self.check_response and candidate.response is not None:
            own = final_answer(candidate.response)
            if own is not None and own != vote.answer:
                return Verdict.dropped(self.name, "response_disagrees")
        metadata = {"answer": vote.answer, "answer_votes": vote.votes, "answer_samples": self.k}
        return verdict_with_metadata(True, "majority_agrees", self.name, metadata)
