"""The ``one_task`` filter: an evolved instruction is one task, and not yet answered.

No model call. Two failures a careful reader drops that no other rule sees:

- ``answer_in_instruction``: the rewrite asks for something and then gives it, inside the
  instruction itself: "Write a limerick about a cat." followed by the limerick, "Solve 12 x 7.
  Solution: 84", a request for a function followed by the function. Caught when the request
  is followed by an answer marker ("Answer:", "Solution:", "Here is ...", "Sure, ..."), or when
  a request to write or solve something ends its sentence (not on ``:``, which introduces
  material to work on) and at least ``min_answer_lines`` (2) further lines follow, none of
  which reads as a requirement (a bullet, "must", "should", "include", an imperative verb...);
  or when a question is followed by at least ``min_answer_sentences`` (3) statements that
  neither require anything nor address the reader ("you", "please", "assume", "given"...):
  "How do vaccines train the immune system? Vaccines stimulate ... These antigens ...".
- ``piled_tasks``: unrelated requests piled together ("Explain recursion. Also write a poem
  about the sea. Also list ten capital cities."). A sentence the parent did not have is a
  *detached task* when it opens with a task verb (a sentence is cut where ", then", ", and" or
"and" joins another request to it), refers back to nothing ("it", "this", "each",
  "the answer", "an example"...), and shares no content word (compared on their first five
  letters) with the parent or with any other sentence of the rewrite. At least
  ``min_detached`` (2) detached tasks drop the rewrite; one added request that stands on its
  own ("Also give an example in Python.") is a constraint, not a pile.

Both look only at what the rewrite added: a parent that already held a poem, or several tasks,
never counts against its child.
"""

from __future__ import annotations

import re

import attrs
from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters.stopwords import english_stopwords, words

__all__ = ["ANSWER_MARKERS", "TASK_VERBS", "OneTaskFilter"]

TASK_VERBS: frozenset[str] = frozenset(
    [
        "write",
        "compose",
        "draft",
        "create",
        "generate",
        "list",
        "name",
        "explain",
        "describe",
        "summarize",
        "summarise",
        "translate",
        "tell",
        "give",
        "draw",
        "design",
        "build",
        "implement",
        "solve",
        "calculate",
        "compute",
        "find",
        "define",
        "outline",
        "suggest",
        "recommend",
        "plan",
        "compare",
        "analyze",
        "analyse",
        "discuss",
        "identify",
        "prove",
        "rank",
        "convert",
        "estimate",
        "provide",
        "recite",
        "sing",
        "paint",
        "invent",
    ]
)
"""Verbs that open a request."""

_PRODUCE = frozenset(
    [
        "write",
        "compose",
        "draft",
        "create",
        "generate",
        "implement",
        "solve",
        "calculate",
        "compute",
        "code",
        "recite",
    ]
)
_BACK_REFERENCE = frozenset(
    [
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "them",
        "they",
        "their",
        "each",
        "above",
        "same",
        "such",
        "both",
        "your",
        "example",
        "examples",
        "answer",
        "answers",
        "result",
        "results",
        "solution",
        "response",
        "output",
        "step",
        "steps",
        "former",
        "latter",
        "previous",
    ]
)
_OPENERS = frozenset(
    ["also", "additionally", "then", "and", "finally", "plus", "next", "lastly", "furthermore"]
)
# Words that make a sentence demand something: a modal or a limit.
_MODALS = (
    r"must|should|shall|needs? to|has to|have to|make sure|do not|don't|no more than|"
    r"at least|at most|exactly|only"
)
_REQUIREMENT = re.compile(
    r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)]\s)|\b(?:" + _MODALS + r"|include|including|use|using|avoid|"
    r"ensure|input|output|example|note|constraints?|requirements?)\b",
    re.IGNORECASE,
)
ANSWER_MARKERS = re.compile(
    r"(?:[.!?]\s+|\n\s*)(?:answer|solution|final answer)\s*[:=]"
    r"|\n\s*(?:here(?: is|'s) (?:my|the|your) (?:answer|solution|response)|sure[,!]|certainly[,!])",
    re.IGNORECASE,
)
"""Where the answer starts inside a rewrite that pasted one."""
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
# Within a sentence, a new request starts at a comma or a joining word before a task verb:
# "..., then describe the plot of Hamlet, and give me a recipe for banana bread."
_CLAUSE_BREAK = re.compile(
    r"(?:,\s*(?:and\s+|then\s+|also\s+)*|\s+(?:and|then)\s+(?:also\s+)?)(?=(?:"
    + "|".join(sorted(TASK_VERBS))
    + r")\b)",
    re.IGNORECASE,
)


def _requests(text: str) -> list[str]:
    """The sentences of ``text``, each cut where a joined request begins."""
    return [
        part.strip()
        for sentence in _SENTENCE.findall(text)
        for part in _CLAUSE_BREAK.split(sentence)
        if words(part)
    ]


def _content(text: str) -> set[str]:
    stop = english_stopwords()
    return {w[:5] for w in words(text) if len(w) > 2 and w not in stop and w not in TASK_VERBS}


def _opening_verb(sentence: str) -> str | None:
    tokens = words(sentence)
    while tokens and tokens[0] in _OPENERS:
        tokens = tokens[1:]
    return tokens[0] if tokens and tokens[0] in TASK_VERBS else None


def _is_requirement(line: str) -> bool:
    return bool(_REQUIREMENT.search(line)) or _opening_verb(line) is not None


def _pasted_answer(text: str, min_lines: int) -> bool:
    if ANSWER_MARKERS.search(text):
        return True
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 1 + min_lines:
        return False
    request = lines[0]
    asks = any(w in _PRODUCE for w in words(request)[:4])
    if not asks or request.endswith(":") or not request.endswith((".", "?", "!")):
        return False
    rest = [line for line in lines[1:] if not line.startswith("```")]
    return len(rest) >= min_lines and not any(_is_requirement(line) for line in rest)


_ADDRESSES_READER = frozenset(
    ["you", "your", "please", "assume", "suppose", "consider", "imagine", "given", "let"]
)
# What makes a sentence after a question part of the task: a modal, a limit, or an imperative.
_ASKS = re.compile(
    r"\b(?:" + _MODALS + r")\b|^\s*(?:[-*•]|\d+[.)]|(?:ensure|use|include|avoid|keep|"
    r"show|state|note|begin|start|end|format|return|answer|respond|reply)\b)",
    re.IGNORECASE,
)


def _answered_question(text: str, min_statements: int) -> bool:
    """A question followed by ``min_statements`` sentences that state, ask or require nothing."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if words(s)]
    asked = [i for i, s in enumerate(sentences) if s.endswith("?")]
    if not asked:
        return False
    after = sentences[asked[-1] + 1 :]
    return len(after) >= min_statements and not any(
        _ASKS.search(s) or _opening_verb(s) or _ADDRESSES_READER & set(words(s)) for s in after
    )


def _detached_tasks(text: str, parent: str) -> int:
    sentences = _requests(text)
    seen = {" ".join(words(s)) for s in _requests(parent)}
    parent_words = _content(parent)
    detached = 0
    for i, sentence in enumerate(sentences):
        if " ".join(words(sentence)) in seen or _opening_verb(sentence) is None:
            continue
        if _BACK_REFERENCE & set(words(sentence)):
            continue
        others = set().union(*(_content(s) for j, s in enumerate(sentences) if j != i))
        mine = _content(sentence)
        if mine and not mine & (others | parent_words):
            detached += 1
    return detached


@frozen(kw_only=True)
class OneTaskFilter:
    """Drops a rewrite that pastes its own answer, or piles unrelated tasks together."""

    name: str = "one_task"
    needs_response: bool = False
    min_answer_lines: int = field(default=2, validator=attrs.validators.ge(1))
    min_answer_sentences: int = field(default=3, validator=attrs.validators.ge(1))
    min_detached: int = field(default=2, validator=attrs.validators.ge(1))

    def problem(self, candidate: Instruction, parent: Instruction) -> str | None:
        """The reason ``candidate`` is not one open task, or None when it is one."""
        if self._answered(candidate.text) and not self._answered(parent.text):
            return "answer_in_instruction"
        if _detached_tasks(candidate.text, parent.text) >= self.min_detached:
            return "piled_tasks"
        return None

    def _answered(self, text: str) -> bool:
        return _pasted_answer(text, self.min_answer_lines) or _answered_question(
            text, self.min_answer_sentences
        )

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop ``candidate`` when it is not one open task (see :meth:`problem`)."""
        reason = self.problem(candidate, parent)
        if reason is not None:
            return Verdict.dropped(self.name, reason)
        return Verdict.kept(self.name)
