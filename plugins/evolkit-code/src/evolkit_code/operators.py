"""The five WizardCoder-style operators, kind ``"code"``, all :class:`TemplateMutator` based.

- ``code.add_constraint``: one new constraint or requirement;
- ``code.rarer_requirement``: a common requirement replaced by a rarer, more specific one;
- ``code.more_reasoning``: more reasoning steps needed;
- ``code.misdirection``: a short piece of erroneous code added as misdirection (the rewrite
  must contain it: a reply without a code snippet is rejected with ``no_code_snippet``);
- ``code.complexity``: stricter time or space complexity requirements.
"""

from __future__ import annotations

import re

from attrs import frozen
from evolkit import Instruction, Rejected
from evolkit.operators import TemplateMutator

from evolkit_code import prompts

__all__ = [
    "ADD_CONSTRAINT",
    "CODE_MUTATORS",
    "COMPLEXITY",
    "MISDIRECTION",
    "MORE_REASONING",
    "RARER_REQUIREMENT",
    "SnippetMutator",
    "code_lines",
    "has_code_snippet",
]

_FENCED = re.compile(r"```[^\n]*\n(?!\s*```)\s*\S.*?(?:```|\Z)", re.DOTALL)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |return\b|for\b|while\b|if\b|else\b|import |from \S+ import|"
    r"function\b|const |let |var |public |private |static |int |#include|SELECT\b)"
    r"|[;{}:]\s*$|\w\s*=\s*\S|\w\([^)]*\)",
)


def code_lines(text: str) -> int:
    """How many lines of ``text`` look like source code."""
    return sum(1 for line in text.splitlines() if _CODE_LINE.search(line))


def has_code_snippet(text: str) -> bool:
    """Whether ``text`` contains code: a fenced block with something in it, or two code lines."""
    return bool(_FENCED.search(text)) or code_lines(text) >= 2


@frozen(kw_only=True)
class SnippetMutator(TemplateMutator):
    """A :class:`TemplateMutator` whose rewrite must contain a code snippet.

    Rejects a rewrite without one with ``no_code_snippet``; otherwise parses like its base.
    """

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        """The evolved task in ``reply``; rejected also when it carries no new code."""
        result = super().parse(reply, parent)
        if isinstance(result, Instruction) and not _adds_code(result, parent):
            return Rejected("no_code_snippet")
        return result


def _adds_code(child: Instruction, parent: Instruction) -> bool:
    old = f"{parent.text}\n{parent.input}"
    new = f"{child.text}\n{child.input}"
    if len(_FENCED.findall(new)) > len(_FENCED.findall(old)):
        return True
    return code_lines(new) >= code_lines(old) + 2


ADD_CONSTRAINT = TemplateMutator(
    name="code.add_constraint",
    kind="code",
    template=prompts.ADD_CONSTRAINT,
    variants=prompts.ADD_CONSTRAINT_VARIANTS,
    system=prompts.SYSTEM,
    description="adds a new constraint or requirement",
)

RARER_REQUIREMENT = TemplateMutator(
    name="code.rarer_requirement",
    kind="code",
    template=prompts.RARER_REQUIREMENT,
    variants=prompts.RARER_REQUIREMENT_VARIANTS,
    system=prompts.SYSTEM,
    description="replaces a common requirement with a less common, more specific one",
)

MORE_REASONING = TemplateMutator(
    name="code.more_reasoning",
    kind="code",
    template=prompts.MORE_REASONING,
    variants=prompts.MORE_REASONING_VARIANTS,
    system=prompts.SYSTEM,
    description="asks for more reasoning steps",
)

MISDIRECTION = SnippetMutator(
    name="code.misdirection",
    kind="code",
    template=prompts.MISDIRECTION,
    variants=prompts.MISDIRECTION_VARIANTS,
    system=prompts.SYSTEM,
    max_added_words=160,
    description="adds a short piece of erroneous code as misdirection",
)

COMPLEXITY = TemplateMutator(
    name="code.complexity",
    kind="code",
    template=prompts.COMPLEXITY,
    variants=prompts.COMPLEXITY_VARIANTS,
    system=prompts.SYSTEM,
    description="asks for stricter time or space complexity",
)

CODE_MUTATORS: tuple[TemplateMutator, ...] = (
    ADD_CONSTRAINT,
    RARER_REQUIREMENT,
    MORE_REASONING,
    MISDIRECTION,
    COMPLEXITY,
)
"""The code operators, in the order they are registered."""
