"""The ``template_leak`` filter: drop a candidate that copies the rewrite prompt's own words."""

from __future__ import annotations

import re

from attrs import field, frozen

from evolkit._markers import INPUT_TAG, INSTRUCTION_TAG, JUDGE_TAGS, REWRITE_INPUT_TAG, REWRITE_TAG
from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters._phrases import phrase_pattern

__all__ = ["LEAK_PHRASES", "LEAK_TAGS", "TemplateLeakFilter"]

LEAK_PHRASES: tuple[str, ...] = (
    "given prompt",
    "given instruction",
    "rewritten prompt",
    "rewritten instruction",
    "created prompt",
    "#given",
    "#rewritten",
    "#created",
)
"""Words of rewrite templates that have no place in an instruction (matched ignoring case)."""

LEAK_TAGS: tuple[str, ...] = (
    INSTRUCTION_TAG,
    INPUT_TAG,
    REWRITE_TAG,
    REWRITE_INPUT_TAG,
    *JUDGE_TAGS,
)
"""The tags of evolkit's built-in prompts; ``<tag>`` and ``</tag>`` both count."""


def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    return re.compile(rf"<\s*/?\s*(?:{names})\s*>", re.IGNORECASE)


@frozen(kw_only=True)
class TemplateLeakFilter:
    """Drops an evolved instruction that copies the template's words: ``template_leak``.

    Looks in the candidate's text and input for ``phrases`` ("given prompt", "#Rewritten",
    ...) and for the prompt ``tags`` (``<rewrite>``, ``</instruction>``, ...). A phrase or tag
    the parent already had is not a leak: a seed may talk about "the given instruction", and
    XML data may hold a ``<first>`` element.
    """

    name: str = "template_leak"
    needs_response: bool = False
    phrases: tuple[str, ...] = field(default=LEAK_PHRASES, converter=tuple, repr=False)
    tags: tuple[str, ...] = field(default=LEAK_TAGS, converter=tuple, repr=False)

    def leaks(self, instruction: Instruction) -> set[str]:
        """The template phrases and tags in ``instruction``, lower case, spacing normalised."""
        text = f"{instruction.text}\n{instruction.input}"
        found = {
            " ".join(
                m.group(0).casefold().replace("-", " ").replace("_", " ").split()
            ).removesuffix("s")
            for m in phrase_pattern(self.phrases, plural=True).finditer(text)
        }
        if self.tags:
            pattern = _tag_pattern(self.tags)
            found |= {re.sub(r"\s+", "", m.group(0).casefold()) for m in pattern.finditer(text)}
        return found

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` if it has a template phrase or tag that ``parent`` did not have."""
        if self.leaks(candidate) - self.leaks(parent):
            return Verdict.dropped(self.name, "template_leak")
        return Verdict.kept(self.name)
