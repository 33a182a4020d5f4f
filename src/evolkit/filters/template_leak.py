"""The ``template_leak`` filter: drop a candidate that copies the rewrite prompt's own words."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

import attrs
from attrs import field, frozen

from evolkit._markers import INPUT_TAG, INSTRUCTION_TAG, JUDGE_TAGS, REWRITE_INPUT_TAG, REWRITE_TAG
from evolkit._phrases import phrase_pattern
from evolkit._protocols import Backend
from evolkit._types import ChatMessage, Instruction, Verdict
from evolkit.filters.stopwords import english_stopwords, words

__all__ = [
    "COMMON_INSTRUCTION_WORDS",
    "LEAK_PHRASES",
    "LEAK_TAGS",
    "TemplateLeakFilter",
    "word_runs",
]

LEAK_PHRASES: tuple[str, ...] = (
    "given prompt",
    "given instruction",
    "rewritten prompt",
    "rewritten instruction",
    "created prompt",
    "#given",
    "#rewritten",
    "#created",
    # A rewrite that talks to the rewriter about the version it replaced is not standalone.
    "as originally stated",
    "originally stated",
    "as originally given",
    "as originally written",
    "original problem",
    "original question",
    "original instruction",
    "original prompt",
    "rewritten problem",
    "rewritten question",
    "revised problem",
    "revised question",
    "revised instruction",
)
"""Words of rewrite templates, and references to the version a rewrite replaced ("as
originally stated", "the original question"), that have no place in an instruction (matched
ignoring case)."""

LEAK_TAGS: tuple[str, ...] = (
    INSTRUCTION_TAG,
    INPUT_TAG,
    REWRITE_TAG,
    REWRITE_INPUT_TAG,
    *JUDGE_TAGS,
)
"""The tags of evolkit's built-in prompts; ``<tag>`` and ``</tag>`` both count."""


COMMON_INSTRUCTION_WORDS: frozenset[str] = frozenset(
    [
        "answer",
        "answers",
        "response",
        "responses",
        "include",
        "includes",
        "including",
        "must",
        "should",
        "write",
        "explain",
        "describe",
        "list",
        "give",
        "use",
        "make",
        "provide",
        "example",
        "examples",
        "question",
        "task",
        "words",
        "word",
        "new",
        "one",
        "two",
        "three",
    ]
)
"""Words that any instruction may share with a prompt; like stop words, they are not evidence
of a copy ("the answer must include" is an ordinary requirement, not a leak)."""


@functools.lru_cache(maxsize=1)
def _not_evidence() -> frozenset[str]:
    """Stop words and :data:`COMMON_INSTRUCTION_WORDS`: words no copy is recognised by."""
    return english_stopwords() | COMMON_INSTRUCTION_WORDS


def word_runs(texts: Iterable[str], length: int) -> set[tuple[str, ...]]:
    """Every run of ``length`` consecutive words in ``texts`` (as :func:`words` reads words)."""
    runs: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = words(text)
        runs.update(tuple(tokens[i : i + length]) for i in range(len(tokens) - length + 1))
    return runs


def _prompt_parts(prompt: Sequence[ChatMessage], parent: Instruction) -> list[str]:
    """The prompt's own text: every message with the parent's text and input cut out."""
    parts: list[str] = []
    cut = [t for t in (parent.text, parent.input) if t.strip()]
    for message in prompt:
        pieces = [message["content"]]
        for own in cut:
            pieces = [p for piece in pieces for p in piece.split(own)]
        parts.extend(pieces)
    return parts


def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    return re.compile(rf"<\s*/?\s*(?:{names})\s*>", re.IGNORECASE)


@frozen(kw_only=True)
class TemplateLeakFilter:
    """Drops an evolved instruction that copies the template's words: ``template_leak``.

    Looks in the candidate's text and input for:

    - the operator's own prompt wording: a run of ``run_words`` (4) consecutive words of the
      messages that produced the candidate, holding at least ``content_words`` (1) word that is
      neither a stop word nor one of :data:`COMMON_INSTRUCTION_WORDS` ("Add only 10 to 20
      words", "the most obvious answer"; not "the answer must include").
      The engine hands these messages to :meth:`judge_prompted`, so a third-party operator
      is covered without declaring anything;
    - ``phrases`` of other rewrite templates ("given prompt", "#Rewritten", ...);
    - the prompt ``tags`` (``<rewrite>``, ``</instruction>``, ...).

    What the parent already had is not a leak: a seed may talk about "the given instruction",
    and XML data may hold a ``<first>`` element.
    """

    name: str = "template_leak"
    needs_response: bool = False
    phrases: tuple[str, ...] = field(default=LEAK_PHRASES, converter=tuple, repr=False)
    tags: tuple[str, ...] = field(default=LEAK_TAGS, converter=tuple, repr=False)
    run_words: int = field(default=4, validator=attrs.validators.ge(2))
    content_words: int = field(default=1, validator=attrs.validators.ge(0))

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

    def copied_runs(
        self, candidate: Instruction, parent: Instruction, prompt: Sequence[ChatMessage]
    ) -> list[str]:
        """The runs of the prompt's own words in ``candidate`` that ``parent`` did not have."""
        n = self.run_words
        prompt_runs = word_runs(_prompt_parts(prompt, parent), n)
        own = word_runs([candidate.text, candidate.input], n)
        had = word_runs([parent.text, parent.input], n)
        stop = _not_evidence()
        copied = [
            run
            for run in (own & prompt_runs) - had
            if sum(w not in stop for w in run) >= self.content_words
        ]
        return sorted(" ".join(run) for run in copied)

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` if it has a template phrase or tag that ``parent`` did not have."""
        if self.leaks(candidate) - self.leaks(parent):
            return Verdict.dropped(self.name, "template_leak")
        return Verdict.kept(self.name)

    async def judge_prompted(
        self,
        candidate: Instruction,
        parent: Instruction,
        backend: Backend,
        prompt: Sequence[ChatMessage],
    ) -> Verdict:
        """Also drop ``candidate`` if it copies a run of the prompt's own words."""
        copied = self.copied_runs(candidate, parent, prompt)
        if copied:
            return Verdict.dropped(self.name, "template_leak", {"copied": copied[:3]})
        return await self.judge(candidate, parent, backend)
