"""The ``audience.rewrite`` operator: the same request, written for a named audience."""

from evolkit.operators import TemplateMutator

AUDIENCE = TemplateMutator(
    name="audience.rewrite",
    kind="audience",
    template=(
        "Rewrite the instruction below so that the answer must suit {variant}. "
        "Keep the task itself the same.\n\n"
        "{instruction}\n\n"
        "Do not answer it, and do not mention this request or any tags."
    ),
    variants=(
        "a curious ten-year-old",
        "a busy manager who reads only the first paragraph",
        "a first-year university student",
        "an expert who wants only the details that matter",
    ),
    description="the same request, written for a named audience",
)
