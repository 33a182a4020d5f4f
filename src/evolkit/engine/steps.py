"""What happens to one instruction in one round: draw an operator, evolve, respond, judge."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from attrs import frozen

from evolkit._filter_call import apply_filter
from evolkit._protocols import ConstrainedBackend, Filter, Mutator, PoolFilter, ShapedMutator
from evolkit._shapes import ReplyShape
from evolkit._types import ChatMessage, Completion, Instruction, Rejected
from evolkit.engine.calls import CallRunner
from evolkit.engine.dedupe import Dedupe
from evolkit.engine.failures import PluginError, plugin_error
from evolkit.engine.journal import CallSite, request_key
from evolkit.engine.stats import Drop, StatsBuilder
from evolkit.engine.structured import constrainer, read_shaped
from evolkit.errors import EvolkitError, ModelError
from evolkit.redact import redact

T = TypeVar("T")

if TYPE_CHECKING:
    from evolkit.engine.plan import RunPlan

__all__ = [
    "CallObserver",
    "Outcome",
    "RoundContext",
    "draw_operator",
    "mutation_rng",
    "response_messages",
]


def response_messages(instruction: Instruction, system: str | None = None) -> list[ChatMessage]:
    """The request for the response to ``instruction``: its user message
    (:meth:`Instruction.user_message`) after an optional system prompt (for example one that
    fixes the final-answer form)."""
    messages: list[ChatMessage] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": instruction.user_message()})
    return messages


def mutation_rng(seed: int, round: int, parent: Instruction) -> random.Random:
    """The generator for every random choice about ``parent`` in ``round`` of a run with
    ``seed``: which operator evolves it, and any choice the operator makes."""
    return random.Random(f"evolkit:{seed}:{round}:{parent.id}")


def draw_operator(
    candidates: Sequence[tuple[Mutator, float]], rng: random.Random
) -> Mutator | None:
    """The operator drawn from weighted ``candidates`` with ``rng`` (one draw, whatever the
    number of candidates, so the operator sees the generator in the same state)."""
    if not candidates:
        return None
    return rng.choices([m for m, _ in candidates], weights=[w for _, w in candidates])[0]


@frozen
class Outcome:
    """The result of evolving one pool item: the kept child, or the drop and why."""

    index: int
    parent: Instruction
    child: Instruction | None
    drop: Drop | None


class _AccountedBackend:
    """What a filter sees as its backend: calls go through the run's runner and are counted.

    Each call is journaled under the filter's name and the index of the identical request it
    repeats, so a filter that asks the same question k times (self-consistency) gets k calls.
    It constrains replies (:class:`~evolkit._protocols.ConstrainedBackend`) when the run does.
    """

    def __init__(self, ctx: RoundContext, round: int, operator: str, parent: str) -> None:
        self._ctx = ctx
        self._round = round
        self._operator = operator
        self._parent = parent
        self._repeats: Counter[str] = Counter()
        self.stage = "filter"
        self.model = ctx.runner.backend.model

    @property
    def constrains(self) -> bool:
        """Whether the run constrains replies (``structured`` on and a backend that can)."""
        return self._ctx.constrainer is not None

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        """The run's backend's parameters for a reply of ``shape`` (none when it does not)."""
        found = self._ctx.constrainer
        return found.constraint(shape) if found is not None else {}

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        request = request_key(self.model, messages, params)
        sample = self._repeats[request]
        self._repeats[request] += 1
        site = CallSite(self._round, self._parent, self.stage, sample)
        return await self._ctx.call(messages, params, self._round, self._operator, "judge", site)


CallObserver = Callable[[str, Completion, int, str], None]
"""Told of one call a round context made: its journal key, completion, round and operator."""


class RoundContext:
    """Shared state of a run's rounds: the run plan, the call runner, the counts, and the
    duplicate rules with the ids kept so far. Built from a
    :class:`~evolkit.engine.plan.RunPlan` in the driver and in each worker alike, so every
    setting reaches every place an instruction is evolved."""

    def __init__(
        self,
        plan: RunPlan,
        runner: CallRunner,
        stats: StatsBuilder,
        on_call: CallObserver | None = None,
    ) -> None:
        self.plan = plan
        self.runner = runner
        self.stats = stats
        #: Told of every call (its journal key, completion, round and operator), or ``None``.
        self.on_call = on_call
        self.mutators: Sequence[tuple[Mutator, float]] = plan.mutators
        usable = plan.active_filters
        self.filters: Sequence[Filter] = [f for f in usable if not isinstance(f, PoolFilter)]
        # Pool rules (near duplicates) are checked in the run's ordered stream, not here.
        self.dedupe = Dedupe(f for f in usable if isinstance(f, PoolFilter))
        #: The backend when replies are constrained to their declared shape, else ``None``.
        self.constrainer: ConstrainedBackend | None = constrainer(
            plan.config.structured, runner.backend
        )

    def guard(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``; an exception from the plugin ``name`` becomes a counted
        :class:`PluginError` (raised on with ``strict``)."""
        try:
            return fn(*args)
        except (EvolkitError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise self._plugin_failure(name, exc) from exc

    async def guard_async(self, name: str, awaitable: Awaitable[T]) -> T:
        """:meth:`guard` for a coroutine (a filter's ``judge``)."""
        try:
            return await awaitable
        except (EvolkitError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise self._plugin_failure(name, exc) from exc

    def _plugin_failure(self, name: str, exc: Exception) -> PluginError:
        error = plugin_error(name, exc)
        self.runner.failures.failure(error)  # raises with --strict
        return error

    @property
    def seed(self) -> int:
        return self.plan.config.seed

    @property
    def respond(self) -> bool:
        return self.plan.config.respond

    async def call(
        self,
        messages: Sequence[ChatMessage],
        params: Mapping[str, Any],
        round: int,
        operator: str,
        stage: str = "mutate",
        site: CallSite | None = None,
    ) -> Completion:
        """One call, counted under its round, operator and stage (mutate, respond, judge);
        ``site`` is where it comes from (part of its journal key)."""
        completion, _ = await self.runner.call(messages, params, site)
        self.stats.add_usage(completion, round, operator, stage)
        if self.on_call is not None:
            key = self.runner.key_for(messages, dict(params), site)
            self.on_call(key, completion, round, operator)
        return completion

    def rng(self, round: int, parent: Instruction) -> random.Random:
        """The generator for every random choice about ``parent`` in ``round``."""
        return mutation_rng(self.seed, round, parent)

    def choose(self, parent: Instruction, rng: random.Random) -> Mutator | None:
        candidates = [(m, w) for m, w in self.mutators if w > 0 and m.applies_to(parent)]
        return draw_operator(candidates, rng)

    async def respond_to(
        self, instruction: Instruction, round: int, operator: str, parent: str | None = None
    ) -> str | None:
        """The answer to ``instruction``, or ``None`` when the reply was over the run's
        ``max_reply_chars`` (kept in the journal without its text)."""
        stage = "seed" if round == 0 else "respond"
        completion = await self.call(
            response_messages(instruction, self.plan.config.respond_system),
            self.plan.config.respond_params,
            round,
            operator,
            "respond",
            CallSite(round, parent if parent is not None else instruction.id, stage),
        )
        return None if completion.too_long else completion.text.strip()

    async def mutate(
        self, mutator: Mutator, parent: Instruction, round: int, rng: random.Random
    ) -> tuple[list[ChatMessage], Completion, Instruction | Rejected]:
        """Ask ``mutator`` to evolve ``parent``: the messages, the reply and what it parsed to.

        When the run constrains replies and the mutator declares its reply's shape
        (:class:`~evolkit._protocols.ShapedMutator`), the reply is asked for and read as
        JSON of that shape; otherwise as text, with the mutator's own ``parse``."""
        name = mutator.name
        site = CallSite(round, parent.id, "mutate")
        params = self.plan.config.mutate_params
        if self.constrainer is None or not isinstance(mutator, ShapedMutator):
            messages = self.guard(name, mutator.build_messages, parent, rng)
            reply = await self.call(messages, params, round, name, "mutate", site)
            return messages, reply, self.guard(name, mutator.parse, reply.text, parent)
        shape = self.guard(name, mutator.reply_shape, parent)
        messages = self.guard(name, mutator.build_shaped_messages, parent, rng)
        params = {**params, **self.constrainer.constraint(shape)}
        reply = await self.call(messages, params, round, name, "mutate", site)
        return messages, reply, self.guard(name, read_shaped, mutator, shape, reply.text, parent)

    async def evolve_one(self, index: int, parent: Instruction, round: int) -> Outcome:
        """Evolve ``parent`` once. Never raises for a model or parse failure: those are drops."""

        def dropped(
            stage: str,
            filter: str,
            reason: str,
            operator: str,
            text: str | None = None,
            metadata: Mapping[str, Any] | None = None,
        ) -> Outcome:
            drop = Drop(
                round, parent.id, operator, stage, filter, reason, text, metadata=metadata or {}
            )
            return Outcome(index, parent, None, drop)

        rng = self.rng(round, parent)
        mutator = self.choose(parent, rng)
        if mutator is None:
            return dropped("mutate", "engine", "no_applicable_operator", "none")
        name = mutator.name
        try:
            messages, reply, parsed = await self.mutate(mutator, parent, round, rng)
        except ModelError as exc:
            return dropped("mutate", "model", f"model_error:{exc.kind}", name, redact(str(exc)))
        except PluginError as exc:
            return dropped("mutate", exc.name, exc.reason, name, str(exc))
        if reply.too_long:
            return dropped("parse", "engine", "reply_too_long", name, "")
        if isinstance(parsed, Rejected):
            return dropped("parse", name, parsed.reason, name, reply.text[:2000])
        if len(parsed.text) + len(parsed.input) > self.plan.config.max_instruction_chars:
            return dropped("parse", "engine", "instruction_too_long", name, parsed.text[:2000])
        child = parsed.evolved_from(parent, name, round)
        repeat = self.dedupe.repeat(child, parent.id)
        if repeat is not None:
            return Outcome(index, parent, None, repeat)
        if self.respond:
            try:
                response = await self.respond_to(child, round, name, parent.id)
            except ModelError as exc:
                return dropped("respond", "model", f"model_error:{exc.kind}", name, child.text)
            except PluginError as exc:
                return dropped("respond", exc.name, exc.reason, name, child.text)
            if response is None:  # over max_reply_chars: calls.py
                return dropped("respond", "engine", "reply_too_long", name, child.text)
            child = attrs.evolve(child, response=response)
        backend = _AccountedBackend(self, round, name, parent.id)
        for flt in self.filters:
            backend.stage = f"filter:{flt.name}"
            try:
                verdict = await self.guard_async(
                    flt.name, apply_filter(flt, child, parent, backend, messages)
                )
            except ModelError as exc:
                return dropped("filter", flt.name, f"model_error:{exc.kind}", name, child.text)
            except PluginError as exc:
                return dropped("filter", exc.name, exc.reason, name, child.text)
            if not verdict.keep:
                return dropped(
                    "filter", verdict.filter, verdict.reason, name, child.text, verdict.metadata
                )
            if verdict.metadata:
                child = attrs.evolve(child, metadata={**child.metadata, **verdict.metadata})
        return Outcome(index, parent, child, None)
