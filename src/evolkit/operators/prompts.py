"""Prompt text of the built-in operators, kept as data next to the code that uses it.

Each user prompt is a template with two placeholders: ``{instruction}`` (the parent instruction
wrapped in ``<instruction>`` tags, followed by its ``<input>`` when it has one) and
``{variant}`` (one phrase drawn with the engine's seeded ``rng`` from the operator's variants).
:class:`~evolkit.operators.TemplateMutator` appends the reply format as the last line.

The prompts are short and explicit so that small local models (0.5B to 1.5B parameters)
follow them: one task sentence, the instruction, a few rules, then the output format.
"""

from __future__ import annotations

__all__ = [
    "ADD_CONSTRAINTS",
    "ADD_CONSTRAINTS_VARIANTS",
    "BREADTH",
    "BREADTH_VARIANTS",
    "COMPLICATE_INPUT",
    "COMPLICATE_INPUT_VARIANTS",
    "CONCRETIZE",
    "CONCRETIZE_VARIANTS",
    "DEEPEN",
    "DEEPEN_VARIANTS",
    "FORMAT_JSON",
    "FORMAT_JSON_WITH_INPUT",
    "FORMAT_REWRITE",
    "FORMAT_REWRITE_WITH_INPUT",
    "INCREASE_REASONING",
    "INCREASE_REASONING_VARIANTS",
    "SYSTEM",
]

SYSTEM = (
    "You write instructions for a training data set. "
    "You never answer or carry out an instruction. You only write a new version of it."
)

# The rules every in-depth step shares: stay answerable, keep the data, grow a little.
_DEPTH_RULES = """Rules:
- The new instruction must be clear, reasonable and something a person can answer.
- Keep all data, code, tables and text that the instruction contains.
- Add only 10 to 20 words.
- Write it as a standalone instruction. Do not mention this request, the old version or any tags.
- Do not answer it."""

ADD_CONSTRAINTS = (
    "Make the instruction below a little harder by adding {variant}.\n\n"
    "{instruction}\n\n" + _DEPTH_RULES
)
ADD_CONSTRAINTS_VARIANTS = (
    "one more constraint the answer must meet",
    "one more requirement the answer must include",
    "a limit on the length or the format of the answer",
    "a condition that rules out the most obvious answer",
    "a specific audience or situation the answer must suit",
)

DEEPEN = (
    "Make the instruction below go deeper into its topic: {variant}.\n\n"
    "{instruction}\n\n" + _DEPTH_RULES
)
DEEPEN_VARIANTS = (
    "ask why, not only what",
    "ask about causes and consequences",
    "ask about trade-offs or limitations",
    "ask about an exception or an edge case",
    "ask how it connects to a related idea",
)

CONCRETIZE = (
    "Make the instruction below more specific: replace one general idea in it with {variant}.\n\n"
    "{instruction}\n\n" + _DEPTH_RULES
)
CONCRETIZE_VARIANTS = (
    "a concrete example",
    "exact names, numbers or quantities",
    "a particular place, time or setting",
    "a narrow field or a real use case",
    "one specific object or case",
)

INCREASE_REASONING = (
    "Change the instruction below so that answering it clearly needs {variant}.\n\n"
    "{instruction}\n\n" + _DEPTH_RULES
)
INCREASE_REASONING_VARIANTS = (
    "several steps of reasoning, each building on the one before",
    "a calculation followed by an explanation of the result",
    "combining two facts before reaching a conclusion",
    "checking the result against a stated condition",
    "comparing two options before choosing one",
)

COMPLICATE_INPUT = """The instruction below comes with data: numbers, code, a table, JSON or \
a formula. Make the task harder by changing that data: {variant}.

{instruction}

Rules:
- The task must stay clear and solvable from the data.
- Change the instruction text only as much as the new data needs, at most 20 more words.
- Write it as a standalone instruction. Do not mention this request, the old version or any tags.
- Do not answer it."""
COMPLICATE_INPUT_VARIANTS = (
    "add more items, rows or values",
    "add one tricky case, such as a missing value, a duplicate or an edge case",
    "make the code or the formula one step longer",
    "nest the structure one level deeper",
    "use less round, more realistic numbers",
)

BREADTH = """Read the instruction below, then write a brand-new instruction {variant}.

{instruction}

Rules:
- Stay in the same domain, but cover something less common.
- Make it about as long and as hard as the instruction above.
- It must be clear, reasonable and something a person can answer.
- If it needs data, put the data inside the new instruction.
- Write it as a standalone instruction. Do not mention this request, the old one or any tags.
- Do not answer it."""
BREADTH_VARIANTS = (
    "on a rarer topic from the same field",
    "about an unusual situation from the same field",
    "that needs a niche skill from the same field",
    "that asks for a different kind of output, such as a list, a table or a short plan",
)

# The reply format, always the last line of the user prompt.
FORMAT_REWRITE = "Reply with only the new instruction, inside <rewrite></rewrite> tags."
FORMAT_REWRITE_WITH_INPUT = (
    "Reply with only the new instruction inside <rewrite></rewrite> tags, "
    "then the new data inside <rewrite_input></rewrite_input> tags."
)

# The reply format when the backend constrains the reply to JSON (``--structured``).
FORMAT_JSON = (
    'Reply with only a JSON object: "plan" (one short sentence on what you will change) '
    'and "rewrite" (the new instruction).'
)
FORMAT_JSON_WITH_INPUT = (
    'Reply with only a JSON object: "plan" (one short sentence on what you will change), '
    '"rewrite" (the new instruction) and "input" (the new data).'
)
