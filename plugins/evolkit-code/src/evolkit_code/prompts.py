"""Prompt text of the code operators.

Each user prompt is a :class:`evolkit.operators.TemplateMutator` template: ``{instruction}`` is
the parent task in ``<instruction>`` tags (with its ``<input>``), ``{variant}`` one of the
operator's variants, drawn with the engine's seeded ``rng``. ``TemplateMutator`` appends the
reply format (``<rewrite>`` tags) as the last line.
"""

from __future__ import annotations

__all__ = [
    "ADD_CONSTRAINT",
    "ADD_CONSTRAINT_VARIANTS",
    "COMPLEXITY",
    "COMPLEXITY_VARIANTS",
    "MISDIRECTION",
    "MISDIRECTION_VARIANTS",
    "MORE_REASONING",
    "MORE_REASONING_VARIANTS",
    "RARER_REQUIREMENT",
    "RARER_REQUIREMENT_VARIANTS",
    "SYSTEM",
]

SYSTEM = (
    "You write programming tasks for a training data set. "
    "You never solve a task and never write its solution. You only write a new version of it."
)

_RULES = """Rules:
- Keep the programming language, the goal and any code, data or examples the task has.
- The new task must be clear and possible to solve.
- Add only 10 to 25 words.
- Write it as a standalone task. Do not mention this request, the old version or any tags.
- Do not solve it and do not write the solution."""

ADD_CONSTRAINT = (
    "Make the programming task below a little harder by adding {variant}.\n\n"
    "{instruction}\n\n" + _RULES
)
ADD_CONSTRAINT_VARIANTS = (
    "one new constraint the solution must respect",
    "one new requirement the program must meet",
    "a rule for invalid or unusual input that the program must handle",
    "a restriction on which built-in functions or libraries may be used",
    "a requirement on the exact format of the output",
)

RARER_REQUIREMENT = (
    "In the programming task below, find a common, general requirement and replace it with "
    "{variant}.\n\n{instruction}\n\n" + _RULES
)
RARER_REQUIREMENT_VARIANTS = (
    "a less common and more specific one",
    "a requirement that comes from a specialised field",
    "an unusual input or output format",
    "a specific edge case that a typical solution would miss",
)

MORE_REASONING = (
    "Change the programming task below so that solving it needs {variant}.\n\n"
    "{instruction}\n\n" + _RULES
)
MORE_REASONING_VARIANTS = (
    "more reasoning steps, for example working out an intermediate result first",
    "splitting the problem into two or three smaller sub-problems",
    "choosing between two approaches and explaining the choice",
    "arguing why the result is correct for every input",
)

MISDIRECTION = """Make the programming task below harder by adding a short piece of \
erroneous code to it as misdirection: {variant}.

{instruction}

Rules:
- Keep the programming language, the goal and any code, data or examples the task has.
- Put the erroneous code, at most 12 lines, in a fenced code block inside the new task.
- Present it as a reference attempt; do not say where the mistake is and do not fix it.
- Add at most 25 words besides the code.
- Write it as a standalone task. Do not mention this request, the old version or any tags.
- Do not solve it and do not write the solution."""
MISDIRECTION_VARIANTS = (
    "code with an off-by-one error in a loop or an index",
    "code that uses the wrong comparison or the wrong operator",
    "code that forgets an edge case such as empty input",
    "code that changes its input by mistake",
    "code that returns a value of the wrong type",
)

COMPLEXITY = (
    "Make the programming task below harder by asking for a stricter time or space "
    "complexity: {variant}.\n\n{instruction}\n\n"
    + _RULES
    + "\n- Ask only for a bound that a correct solution can meet."
)
COMPLEXITY_VARIANTS = (
    "a faster time complexity, such as O(n log n) or O(n) instead of a naive approach",
    "less memory, such as O(1) extra space",
    "stated bounds on both the running time and the extra memory",
    "a time bound that still holds for inputs of up to 10^6 items",
)
