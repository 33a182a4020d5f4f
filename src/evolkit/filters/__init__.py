"""Built-in eliminator filters: they drop evolved instructions that failed to evolve.

- ``not_instruction``: the rewrite is empty, a bare verdict or label, or a fragment.
- ``near_copy``: the rewrite is its parent with a word or two changed (no model call).
- ``growth``: records how many words an in-depth rewrite added; drops only a runaway (more
  than 60 words and four times its parent). ``growth.band`` (not on by default) drops a depth
  rewrite outside the 10 to 20 words its prompt asks for.
- ``one_task``: the rewrite pastes its own answer, or piles unrelated tasks together.
- ``template_leak``: the instruction copies the operator's prompt wording, or template tags.
- ``refusal``: the response apologises or declines, asks for missing information or only
  acknowledges, and is short; or is empty.
- ``stopwords``: the response is only punctuation and stop words.
- ``near_duplicate``: the row nearly repeats another lineage's row (MinHash LSH, whole pool).
- ``information_gain``: the model judges the instruction equal to its parent.

The engine runs filters in registry order and stops at the first drop, so the cheap local
rules come first and the one that calls the model comes last (``near_duplicate`` is checked
after the per-candidate rules, in the run's fixed order).

This module is itself a plugin: it registers the filters through
``evolkit_register_filters`` like any third-party package would.
"""

from __future__ import annotations

from typing import Any

from evolkit._registry import FilterRegistry
from evolkit.filters.growth import GrowthFilter
from evolkit.filters.information_gain import (
    JUDGE_EXAMPLES,
    InformationGainFilter,
    JudgeExample,
    read_judgement,
)
from evolkit.filters.instruction_form import InstructionFormFilter
from evolkit.filters.near_copy import NearCopyFilter
from evolkit.filters.near_duplicate import NearDuplicateFilter
from evolkit.filters.one_task import OneTaskFilter
from evolkit.filters.refusal import REFUSAL_PHRASES, RefusalFilter
from evolkit.filters.stopwords import StopwordsFilter, english_stopwords
from evolkit.filters.template_leak import LEAK_PHRASES, LEAK_TAGS, TemplateLeakFilter
from evolkit.hookspecs import hookimpl

__all__ = [
    "JUDGE_EXAMPLES",
    "LEAK_PHRASES",
    "LEAK_TAGS",
    "REFUSAL_PHRASES",
    "GrowthFilter",
    "InformationGainFilter",
    "InstructionFormFilter",
    "JudgeExample",
    "NearCopyFilter",
    "NearDuplicateFilter",
    "OneTaskFilter",
    "RefusalFilter",
    "StopwordsFilter",
    "TemplateLeakFilter",
    "builtin_filters",
    "english_stopwords",
    "evolkit_register_filters",
    "read_judgement",
]


def builtin_filters() -> tuple[Any, ...]:
    """Fresh instances of the built-in filters with default settings, in registry order."""
    return (
        InstructionFormFilter(),
        NearCopyFilter(),
        GrowthFilter(),
        OneTaskFilter(),
        TemplateLeakFilter(),
        RefusalFilter(),
        StopwordsFilter(),
        NearDuplicateFilter(),
        InformationGainFilter(),
    )


@hookimpl
def evolkit_register_filters(registry: FilterRegistry) -> None:
    """Register the built-in filters (local rules first, the judge last) and ``growth.band``."""
    # Typed loosely: mypy reads a frozen attrs field as read-only, while the Filter protocol
    # declares ``name``/``needs_response`` as plain attributes; at run time they satisfy it.
    filters: tuple[Any, ...] = builtin_filters()
    for item in filters:
        registry.add(item, default=True)
    # The strict band the depth prompts ask for, by name only (``--filters growth.band``).
    band: Any = GrowthFilter.band_filter()
    registry.add(band, default=False)
