"""Prompt text of Auto Evol-Instruct: the universal initial method and the optimizer's requests.

The evolving method is plain text: the steps the evolver follows to make one instruction harder.
The engine appends the instruction and the reply format, so a method never names either.
"""

from __future__ import annotations

__all__ = [
    "ANALYSE",
    "ANALYSE_SYSTEM",
    "INITIAL_METHOD",
    "METHOD_TAG",
    "REWRITE_METHOD",
    "REWRITE_METHOD_SYSTEM",
]

METHOD_TAG = "method"

INITIAL_METHOD = """You will make the instruction below more complex, in four steps.

Step 1. List three to five ways this particular instruction could be made more complex: for
example a constraint, a requirement, a deeper question, a concrete case, or an extra reasoning
step. Each way must keep the instruction answerable and on its topic.

Step 2. Plan: choose one or two of the ways from Step 1 and say how you will apply them.

Step 3. Rewrite the instruction following the plan. Add only about 10 to 20 words. Keep every
piece of data, code and text it contains.

Step 4. Review the rewrite: it must be harder than the original, answerable by a person, on the
same topic, and must not answer itself. Fix it if it fails any of these.

Finally, give only the reviewed instruction as your final answer."""

ANALYSE_SYSTEM = (
    "You review how a data-generation method performed. "
    "You read evolution trajectories closely and name concrete problems. You are brief."
)

ANALYSE = """A method was used to rewrite instructions into harder ones. Below are {count} \
trajectories: each starts from an original instruction and shows every rewrite, the response a \
model gave to it, and the rewrites that were thrown away with the reason.

<method_used>
{method}
</method_used>

{trajectories}

List the problems you see in these trajectories, one per line, starting each with "- ". Look for:
a rewrite that got no harder, lost information from the original, became impossible or unclear to
answer, changed topic, answered itself, was too long, or a response showing the instruction could
not be answered (it only acknowledges, asks for more information, or apologises). Then say in one
line what the method should do differently."""

REWRITE_METHOD_SYSTEM = (
    "You improve step-by-step methods that rewrite instructions into harder ones. "
    "You write general methods that work for any instruction."
)

REWRITE_METHOD = """Here is the current method for making an instruction more complex:

<method>
{method}
</method>

When it was used, these problems were found:

{feedback}

Write an improved version of the method that avoids these problems. Rules:
- Keep it general: it must work for any instruction, not only the ones above.
- Keep the steps: list ways to make the instruction more complex, plan, rewrite adding about \
10 to 20 words, review, then give only the final instruction.
- Do not include any example instruction, and do not use curly braces.
- This is draft {draft} of {drafts}: make it your own version.

Reply with the whole improved method inside <method></method> tags."""
