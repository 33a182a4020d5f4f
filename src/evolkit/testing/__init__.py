"""What a plugin author needs to test operators and filters without a model.

- :class:`FakeBackend`: scripted or computed replies, records every call.
- :func:`run_mutator` / :func:`arun_mutator`: one operator on one instruction, lineage filled in
  the way the engine fills it.
- :func:`run_filter` / :func:`arun_filter`: one filter on one candidate.
- pytest fixtures (installed through the ``pytest11`` entry point, so they are there as soon as
  evolkit is installed): ``fake_backend`` and ``evolkit_plugin``, which registers a plugin object
  for one test and removes it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from evolkit._filter_call import apply_filter
from evolkit._protocols import Backend, Filter, Mutator
from evolkit._types import ChatMessage, Instruction, Rejected, Verdict
from evolkit.backends.fake import FakeBackend, default_reply
from evolkit.engine._loop import blocking
from evolkit.engine.steps import draw_operator, mutation_rng

__all__ = [
    "FakeBackend",
    "arun_filter",
    "arun_mutator",
    "default_reply",
    "run_filter",
    "run_mutator",
]


async def arun_mutator(
    mutator: Mutator,
    instruction: Instruction | str,
    backend: Backend | None = None,
    *,
    seed: int = 0,
    round: int = 1,
    structured: str = "auto",
) -> Instruction | Rejected:
    """Evolve ``instruction`` once with ``mutator`` through ``backend`` (the default fake),
    exactly as round ``round`` of a run with ``seed`` would: the same random generator, the
    reply asked for and read as JSON of the mutator's shape when ``backend`` constrains and
    ``structured`` allows it, and the child stamped the engine's way (fresh id from its
    content, lineage, no response)."""
    from evolkit._protocols import ShapedMutator
    from evolkit.engine.structured import constrainer, read_shaped

    parent = Instruction(text=instruction) if isinstance(instruction, str) else instruction
    model = backend if backend is not None else FakeBackend.default()
    rng = mutation_rng(seed, round, parent)
    draw_operator([(mutator, 1.0)], rng)  # the engine's draw, so ``rng`` is in the same state
    shaped = constrainer(structured, model)
    if shaped is not None and isinstance(mutator, ShapedMutator):
        shape = mutator.reply_shape(parent)
        messages = mutator.build_shaped_messages(parent, rng)
        completion = await model.complete(messages, **shaped.constraint(shape))
        result = read_shaped(mutator, shape, completion.text, parent)
    else:
        completion = await model.complete(mutator.build_messages(parent, rng))
        result = mutator.parse(completion.text, parent)
    if isinstance(result, Rejected):
        return result
    return result.evolved_from(parent, mutator.name, round)


run_mutator = blocking(arun_mutator, "run_mutator")
"""Blocking :func:`arun_mutator`; works inside a running event loop (Jupyter) too."""


async def arun_filter(
    filter: Filter,
    candidate: Instruction | str,
    parent: Instruction | str | None = None,
    backend: Backend | None = None,
    *,
    response: str | None = None,
    prompt: Sequence[ChatMessage] | None = None,
) -> Verdict:
    """Judge ``candidate`` (with ``response``) against ``parent`` with ``filter``.

    ``prompt`` stands for the messages the mutator sent; a filter that reads them
    (:class:`evolkit._protocols.PromptAwareFilter`) gets them as in a run.
    """
    cand = Instruction(text=candidate) if isinstance(candidate, str) else candidate
    if response is not None:
        cand = attrs.evolve(cand, response=response)
    if parent is None:
        par = Instruction(text=cand.text + " (original)")
    else:
        par = Instruction(text=parent) if isinstance(parent, str) else parent
    if cand.parent_id is None:
        cand = attrs.evolve(cand, parent_id=par.id, round=max(cand.round, par.round + 1))
    model = backend if backend is not None else FakeBackend.default()
    return await apply_filter(filter, cand, par, model, prompt)


run_filter = blocking(arun_filter, "run_filter")
"""Blocking :func:`arun_filter`; works inside a running event loop (Jupyter) too."""
