"""What happens to one instruction in one round: draw an operator, evolve, respond, judge."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from attrs import frozen

from evolkit._protocols import Filter, Mutator
from evolkit._types import ChatMessage, Completion, Instruction, Rejected, content_id
from evolkit.engine.calls import CallRunner
from evolkit.engine.failures import PluginError, plugin_error
from evolkit.engine.journal import CallSite, request_key
from evolkit.engine.stats import Drop, StatsBuilder
from evolkit.errors import EvolkitError, ModelError
from evolkit.redact import redact

T = TypeVar("T")

__all__ = ["Outcome", "RoundContext", "response_messages"]


def response_messages(instruction: Instruction, system: str | None = None) -> list[ChatMessage]:
    """The request for the response to ``instruction``: its text, then its input if any,
    after an optional system prompt (for example one that fixes the final-answer form)."""
    content = instruction.text
    if instruction.input:
        content = f"{instruction.text}\n\n{instruction.input}"
    messages: list[ChatMessage] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": content})
    return messages


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
    """

    def __init__(self, ctx: RoundContext, round: int, operator: str, parent: str) -> None:
        self._ctx = ctx
        self._round = round
        self._operator = operator
        self._parent = parent
        self._repeats: Counter[str] = Counter()
        self.stage = "filter"
        self.model = ctx.runner.backend.model

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        request = request_key(self.model, messages, params)
        sample = self._repeats[request]
        self._repeats[request] += 1
        site = CallSite(self._round, self._parent, self.stage, sample)
        return await self._ctx.call(messages, params, self._round, self._operator, site)


class RoundContext:
    """Shared state of a run's rounds: operators, filters, runner, settings."""

    def __init__(
        self,
        *,
        runner: CallRunner,
        stats: StatsBuilder,
        mutators: Sequence[tuple[Mutator, float]],
        filters: Sequence[Filter],
        seed: int,
        respond: bool,
        mutate_params: Mapping[str, Any],
        respond_params: Mapping[str, Any],
        respond_system: str | None = None,
        max_reply_chars: int = 100_000,
        max_instruction_chars: int = 50_000,
    ) -> None:
        self.runner = runner
        self.stats = stats
        self.mutators = list(mutators)
        self.filters = [f for f in filters if respond or not f.needs_response]
        self.seed = seed
        self.respond = respond
        self.mutate_params = dict(mutate_params)
        self.respond_params = dict(respond_params)
        self.respond_system = respond_system
        self.seen_before: set[str] = set()
        self.max_reply_chars = max_reply_chars
        self.max_instruction_chars = max_instruction_chars

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

    async def call(
        self,
        messages: Sequence[ChatMessage],
        params: Mapping[str, Any],
        round: int,
        operator: str,
        site: CallSite | None = None,
    ) -> Completion:
        completion, _ = await self.runner.call(messages, params, site)
        self.stats.add_usage(completion, round, operator)
        return completion

    def rng(self, round: int, parent: Instruction) -> random.Random:
        """The generator for every random choice about ``parent`` in ``round``."""
        return random.Random(f"evolkit:{self.seed}:{round}:{parent.id}")

    def choose(self, parent: Instruction, rng: random.Random) -> Mutator | None:
        candidates = [(m, w) for m, w in self.mutators if w > 0 and m.applies_to(parent)]
        if not candidates:
            return None
        return rng.choices([m for m, _ in candidates], weights=[w for _, w in candidates])[0]

    async def respond_to(
        self, instruction: Instruction, round: int, operator: str, parent: str | None = None
    ) -> str:
        stage = "seed" if round == 0 else "respond"
        completion = await self.call(
            response_messages(instruction, self.respond_system),
            self.respond_params,
            round,
            operator,
            CallSite(round, parent if parent is not None else instruction.id, stage),
        )
        return completion.text.strip()

    async def evolve_one(self, index: int, parent: Instruction, round: int) -> Outcome:
        """Evolve ``parent`` once. Never raises for a model or parse failure: those are drops."""

        def dropped(
            stage: str, filter: str, reason: str, operator: str, text: str | None = None
        ) -> Outcome:
            drop = Drop(round, parent.id, operator, stage, filter, reason, text)
            return Outcome(index, parent, None, drop)

        rng = self.rng(round, parent)
        mutator = self.choose(parent, rng)
        if mutator is None:
            return dropped("mutate", "engine", "no_applicable_operator", "none")
        name = mutator.name
        try:
            messages = self.guard(name, mutator.build_messages, parent, rng)
            site = CallSite(round, parent.id, "mutate")
            reply = await self.call(messages, self.mutate_params, round, name, site)
            parsed = self.guard(name, mutator.parse, reply.text, parent)
        except ModelError as exc:
            return dropped("mutate", "model", f"model_error:{exc.kind}", name, redact(str(exc)))
        except PluginError as exc:
            return dropped("mutate", exc.name, exc.reason, name, str(exc))
        if isinstance(parsed, Rejected):
            return dropped("parse", name, parsed.reason, name, reply.text[:2000])
        if len(parsed.text) + len(parsed.input) > self.max_instruction_chars:
            return dropped("parse", "engine", "instruction_too_long", name, parsed.text[:2000])
        child = attrs.evolve(
            parsed,
            id=content_id(parsed.text, parsed.input),
            parent_id=parent.id,
            operator=name,
            round=round,
            response=None,
        )
        if child.id in self.seen_before:
            return dropped("dedupe", "engine", "duplicate", name, child.text)
        if self.respond:
            try:
                response = await self.respond_to(child, round, name, parent.id)
            except ModelError as exc:
                return dropped("respond", "model", f"model_error:{exc.kind}", name, child.text)
            except PluginError as exc:
                return dropped("respond", exc.name, exc.reason, name, child.text)
            if len(response) > self.max_reply_chars:
                return dropped("respond", "engine", "reply_too_long", name, child.text)
            child = attrs.evolve(child, response=response)
        backend = _AccountedBackend(self, round, name, parent.id)
        for flt in self.filters:
            backend.stage = f"filter:{flt.name}"
            try:
                verdict = await self.guard_async(flt.name, flt.judge(child, parent, backend))
            except ModelError as exc:
                return dropped("filter", flt.name, f"model_error:{exc.kind}", name, child.text)
            except PluginError as exc:
                return dropped("filter", exc.name, exc.reason, name, child.text)
            if not verdict.keep:
                return dropped("filter", verdict.filter, verdict.reason, name, child.text)
            if verdict.metadata:
                child = attrs.evolve(child, metadata={**child.metadata, **verdict.metadata})
        return Outcome(index, parent, child, None)
