"""The small protocols a plugin implements: :class:`Mutator`, :class:`Filter`,
:class:`Backend`.

A backend may also offer optional capabilities, each its own small runtime-checkable protocol
that the engine finds with ``isinstance``: :class:`ClosableBackend` (resources to release when a
run ends), :class:`HintedBackend` (defaults that suit it, such as a local model's parallel slots),
:class:`ErrorClassifier` (turns its own exceptions into :class:`~evolkit.errors.ModelError`) and
:class:`ConstrainedBackend` (constrains a reply to a JSON schema). A mutator may declare the shape
of its reply (:class:`ShapedMutator`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
from attrs import field, frozen

from evolkit._shapes import ReplyShape
from evolkit._types import (
    ChatMessage,
    Completion,
    Instruction,
    Rejected,
    ScoreFailure,
    ScoreItem,
    Verdict,
)
from evolkit.errors import ModelError

__all__ = [
    "Backend",
    "BackendHints",
    "ClosableBackend",
    "ConstrainedBackend",
    "ErrorClassifier",
    "Filter",
    "HintedBackend",
    "LoopBoundBackend",
    "ModelJudge",
    "Mutator",
    "PoolFilter",
    "PoolIndex",
    "PreparedScorer",
    "PromptAwareFilter",
    "PromptTextMutator",
    "ScopedBackend",
    "Scorer",
    "ShapedMutator",
]


@runtime_checkable
class Mutator(Protocol):
    """Asks the model to rewrite one instruction, and reads the rewrite back.

    ``name`` is unique across plugins (for example ``"depth.add_constraints"``); ``kind`` groups
    mutators (``"depth"``, ``"breadth"``, or a plugin's own word). The engine draws which mutator
    evolves an instruction, calls :meth:`build_messages`, sends the messages to the backend, and
    hands the reply to :meth:`parse`.
    """

    @property
    def name(self) -> str:
        """Unique across plugins, e.g. ``"depth.add_constraints"``."""
        ...

    @property
    def kind(self) -> str:
        """A group of operators: ``"depth"``, ``"breadth"`` or a plugin's own word."""
        ...

    def applies_to(self, instruction: Instruction) -> bool:
        """Whether this mutator can evolve ``instruction`` (for example: it carries data)."""
        ...

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        """The chat messages that ask the model to evolve ``instruction``.

        ``rng`` is seeded by the engine per instruction and round, so any choice made with it
        is reproducible.
        """
        ...

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        """The evolved instruction in ``reply``, or :class:`Rejected` saying why there is none.

        Return ``parent.derive(text)``; the engine fills in the lineage.
        """
        ...


@runtime_checkable
class Filter(Protocol):
    """Judges one evolved candidate (with its parent and response) and returns a :class:`Verdict`.

    ``needs_response`` says whether the filter reads ``candidate.response``; the engine skips
    such filters when responses are turned off. A filter may call the model through ``backend``.
    """

    @property
    def name(self) -> str:
        """Unique across plugins, e.g. ``"refusal"``."""
        ...

    @property
    def needs_response(self) -> bool:
        """Whether :meth:`judge` reads ``candidate.response``."""
        ...

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Keep or drop ``candidate``, with a reason."""
        ...


@runtime_checkable
class Backend(Protocol):
    """Anything that answers chat messages: messages in, text plus usage and cost out.

    Raise :class:`evolkit.errors.ModelError` for a failed call (``retryable=True`` for rate
    limits, timeouts, connection errors and server errors).
    """

    @property
    def model(self) -> str:
        """The model this backend talks to (part of every request's journal key)."""
        ...

    async def complete(self, messages: Sequence[ChatMessage], **params: Any) -> Completion:
        """Answer ``messages``; ``params`` are sampling parameters such as ``temperature``."""
        ...


@runtime_checkable
class PromptTextMutator(Protocol):
    """A mutator that declares the fixed text its prompts contain (every wording it may use).

    ``template_leak`` reads it when the messages of the call that made a candidate are not at
    hand (``evolkit filter`` over an existing data set). Without it, the filter rebuilds the
    messages with :meth:`Mutator.build_messages`.
    """

    @property
    def prompt_texts(self) -> tuple[str, ...]:
        """Every fixed text (templates, variants, rules, reply format) of this mutator's prompts."""
        ...


@runtime_checkable
class PromptAwareFilter(Protocol):
    """A filter that also reads the messages the mutator sent for the call that made the candidate.

    The engine calls :meth:`judge_prompted` instead of :meth:`Filter.judge` for such a filter,
    so a rule can recognise the operator's own wording in the rewrite (``template_leak``).
    """

    async def judge_prompted(
        self,
        candidate: Instruction,
        parent: Instruction,
        backend: Backend,
        prompt: Sequence[ChatMessage],
    ) -> Verdict:
        """Keep or drop ``candidate``, knowing the ``prompt`` that produced it."""
        ...


@runtime_checkable
class ModelJudge(Protocol):
    """A filter that asks the model for its verdict (``calls_model`` true).

    ``evolkit filter`` runs such a filter only when a model is given.
    """

    @property
    def calls_model(self) -> bool:
        """Whether :meth:`Filter.judge` calls the backend."""
        ...


@runtime_checkable
class PoolIndex(Protocol):
    """The state of a pool rule for one run: what it has seen, and a verdict on a new row."""

    def add(self, instruction: Instruction) -> None:
        """Remember ``instruction`` (a seed, a kept row of this or an earlier round)."""
        ...

    def check(self, candidate: Instruction) -> Verdict:
        """Keep ``candidate`` or drop it because of a row added before."""
        ...


@runtime_checkable
class PoolFilter(Protocol):
    """A filter that judges a candidate against the whole pool, not only its parent.

    The engine makes one :class:`PoolIndex` per run with :meth:`new_index`, adds the seeds
    and every kept row to it, and checks candidates in a fixed order (so the result does not
    depend on which model call finished first).
    """

    def new_index(self) -> PoolIndex:
        """An empty index for one run."""
        ...


_positive_or_none: Any = attrs.validators.optional(attrs.validators.gt(0))


@frozen(kw_only=True)
class BackendHints:
    """Defaults a backend suggests for a run; settings the user gave always win.

    ``parallel`` is how many calls it can answer at once (a local model's slots: the default
    concurrency); ``timeout`` is a per-call timeout that suits it (a slow CPU model needs a
    patient one); ``hedge=False`` says a second try of a late call would not help: it would
    run on the same hardware as the first (a local model) and only slow it down.
    """

    parallel: int | None = field(default=None, validator=_positive_or_none)
    timeout: float | None = field(default=None, validator=_positive_or_none)
    hedge: bool | None = None


@runtime_checkable
class ClosableBackend(Protocol):
    """A backend holding resources (a child server, pooled connections) released at run end."""

    async def aclose(self) -> None:
        """Release what the backend holds; safe to call twice."""
        ...


@runtime_checkable
class ScopedBackend(Protocol):
    """A backend whose replies depend on settings outside each request: the server it calls
    (``api_base``) and the parameters it adds to every call. The response cache keys every
    reply by them (:func:`evolkit.engine.cache.scoped_cache`), so a reply from one server or
    with other parameters is never reused for another."""

    def reply_scope(self) -> Mapping[str, Any]:
        """Those settings, JSON-able, with secrets (API keys) left out."""
        ...


@runtime_checkable
class LoopBoundBackend(Protocol):
    """A backend whose pooled connections belong to the event loop that opened them.

    The engine calls :meth:`release_connections` at the end of every run, before its loop
    closes, whether it built the backend or was given it; the backend stays usable and opens
    new connections on its next call.
    """

    async def release_connections(self) -> None:
        """Close the connections opened on the running event loop."""
        ...


@runtime_checkable
class HintedBackend(Protocol):
    """A backend that suggests run defaults (see :class:`BackendHints`)."""

    @property
    def hints(self) -> BackendHints:
        """Defaults that suit this backend."""
        ...


@runtime_checkable
class ErrorClassifier(Protocol):
    """A backend that turns an exception its calls raised into a :class:`ModelError`.

    The engine retries only a ``ModelError`` marked ``retryable``; any other exception from a
    backend is a programming error, counted under its own reason and never retried.
    """

    def classify_error(self, exc: BaseException) -> ModelError:
        """The :class:`ModelError` for ``exc``, with its kind and retry verdict."""
        ...


@runtime_checkable
class ConstrainedBackend(Protocol):
    """A backend that can make a reply fit a JSON schema (constrained decoding).

    ``constrains`` says whether it can for its model (a provider without schema support
    cannot); :meth:`constraint` gives the request parameters that ask for it, which callers
    add to a call's parameters (so they are part of its journal and cache key).
    """

    @property
    def constrains(self) -> bool:
        """Whether calls to this backend can be constrained to a schema."""
        ...

    def constraint(self, shape: ReplyShape) -> dict[str, Any]:
        """The request parameters that make the reply a JSON object of ``shape``."""
        ...


@runtime_checkable
class ShapedMutator(Protocol):
    """A mutator that declares the shape of its reply, for backends that constrain decoding.

    With ``--structured`` on, the engine asks with :meth:`build_shaped_messages` (which tell
    the model to reply in JSON), constrains the reply to :meth:`reply_shape`, reads it with
    :meth:`ReplyShape.read <evolkit._shapes.ReplyShape.read>` and hands the fields to
    :meth:`parse_shaped`. A mutator without it is always asked and read as text.
    """

    def reply_shape(self, instruction: Instruction) -> ReplyShape:
        """The shape of the reply that evolves ``instruction``."""
        ...

    def build_shaped_messages(
        self, instruction: Instruction, rng: random.Random
    ) -> list[ChatMessage]:
        """:meth:`Mutator.build_messages`, asking for a JSON reply of :meth:`reply_shape`."""
        ...

    def parse_shaped(
        self, fields: Mapping[str, Any], parent: Instruction
    ) -> Instruction | Rejected:
        """The evolved instruction in the reply's ``fields``, or :class:`Rejected`."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Gives one row a number: a difficulty, a quality, a reward, a distance.

    ``name`` is the key the score is stored under (``metadata["scores"][name]``). A scorer that
    asks a model (``needs_model``) sends its requests through ``backend``, which the engine
    journals, caches and counts. A row the scorer cannot score gets a :class:`ScoreFailure`
    with a reason: it is counted, and the row gets no value for this score.
    """

    @property
    def name(self) -> str:
        """Unique across plugins, e.g. ``"difficulty"``."""
        ...

    @property
    def needs_model(self) -> bool:
        """Whether :meth:`score` calls ``backend``."""
        ...

    async def score(self, item: ScoreItem, backend: Backend) -> float | ScoreFailure:
        """The score of ``item.row`` (its ``ancestors`` are there for evolution-aware scores)."""
        ...


@runtime_checkable
class PreparedScorer(Protocol):
    """A scorer that reads the whole data set once before scoring rows (a diversity score)."""

    def prepare(self, rows: Iterable[Instruction]) -> None:
        """Read every row of the data set; called once, in a worker thread, before scoring."""
        ...
