"""Reading a rewrite out of a model's reply, leniently, and spotting replies that are not rewrites.

Small local models are sloppy: they forget the tags, open a tag and never close it, put a
label such as ``Rewritten instruction:`` in front, quote the text, or answer the instruction
instead of rewriting it. The helpers here recover the rewrite where there is one and say why
there is none otherwise.
"""

from __future__ import annotations

import re

from evolkit._markers import INSTRUCTION_TAG, REWRITE_INPUT_TAG, REWRITE_TAG, between
from evolkit._refusal import OPENING_REFUSALS, find_refusal

__all__ = [
    "asks_for_something",
    "extract_input",
    "extract_rewrite",
    "looks_like_answer",
    "looks_like_refusal",
    "normalise",
    "strip_label",
    "strip_quotes",
    "word_count",
]


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words a short label in front of the rewrite is made of ("Sure! Here is the new instruction:").
_LABEL_WORDS = _word_set(
    """sure okay ok certainly of course absolutely here here's heres is are the a an my your
    this new rewritten revised evolved updated improved harder modified more final created
    complex complicated deeper deep concrete specific challenging difficult detailed
    version instruction instructions prompt prompts task question rewrite output result
    given original"""
)
_LABEL_KEYS = _word_set(
    "instruction instructions prompt prompts task question rewrite rewritten version"
)
_MAX_LABEL_WORDS = 10
_OWN_TAGS = re.compile(
    rf"</?\s*(?:{REWRITE_TAG}|{REWRITE_INPUT_TAG}|{INSTRUCTION_TAG})\s*>", re.IGNORECASE
)
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`", "«": "»"}
_FENCE = re.compile(r"^```[\w+-]*\n(.*)\n```$", re.DOTALL)

# Words that open a request: a sentence (or clause) that starts with one asks for something.
_REQUEST_VERBS = _word_set(
    """write explain describe calculate compute find determine list give provide create design
    develop implement compare contrast analyze analyse discuss summarize summarise identify
    classify translate rewrite generate solve prove show evaluate estimate suggest propose
    outline draft compose construct build make name define state predict recommend convert
    sort categorize categorise choose select rank plan consider imagine suppose assume let
    given using use based tell answer edit fix debug optimize optimise refactor modify complete
    fill brainstorm argue justify illustrate demonstrate derive simplify express draw count
    rate review critique assess examine investigate paraphrase correct check verify detect
    extract parse format arrange organize organise match group combine merge split add
    subtract multiply divide reverse print include mention please interpret formulate present
    report sketch specify test train visualize visualise word read look decide invent"""
)
_REQUEST_PHRASES = re.compile(
    r"\b(?:please|can you|could you|would you|you must|you should|you need to|your answer|"
    r"your response|make sure|be sure to|ensure that|in no more than|in at most|"
    r"in fewer than|in under)\b",
    re.IGNORECASE,
)
_ANSWER_OPENERS = re.compile(
    r"^\W*(?:sure|certainly|of course|absolutely|great question|here is the answer|"
    r"here's the answer|here is an answer|the answer is|answer\s*:|solution\s*:|"
    r"step 1\b|to solve|the solution is|in conclusion)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\w\))\s*")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def word_count(text: str) -> int:
    """Whitespace-separated words in ``text``."""
    return len(text.split())


def normalise(text: str) -> str:
    """Case-folded, whitespace-collapsed text without trailing punctuation, for comparisons."""
    return " ".join(text.casefold().split()).rstrip(" .!?;:")


def strip_label(text: str) -> str:
    """``text`` without a leading label such as ``Rewritten instruction:`` or ``#New Prompt#:``.

    A label is a few words before a colon on the first line, made only of words labels use
    ("Sure! Here is the more complex version:"), and naming the instruction, prompt, task,
    question or version. "Answer the following question:" is an instruction, not a label.
    """
    first, sep, rest = text.partition("\n")
    head, colon, tail = first.partition(":")
    if not colon:
        return text
    words = [w.strip("*#_!,.'\"()[]").lower() for w in head.split()]
    words = [w for w in words if w]
    if not words or len(words) > _MAX_LABEL_WORDS:
        return text
    if not set(words) <= _LABEL_WORDS or not set(words) & _LABEL_KEYS:
        return text
    remainder = tail.lstrip("*#_ \t") + (sep + rest if sep else "")
    return remainder.strip()


def strip_quotes(text: str) -> str:
    """``text`` without one pair of quotes (or a code fence) wrapped around all of it."""
    text = text.strip()
    fence = _FENCE.match(text)
    if fence and "```" not in fence.group(1):
        return fence.group(1).strip()
    if len(text) >= 2:
        close = _QUOTE_PAIRS.get(text[0])
        inner = text[1:-1]
        if close is not None and text[-1] == close and text[0] not in inner and close not in inner:
            return inner.strip()
    return text


def extract_rewrite(reply: str) -> str:
    """The rewritten instruction in ``reply``: tagged if the model used the tags, else all of it.

    Takes the text inside the last ``<rewrite>`` tag (or after an unclosed one); without a tag,
    the reply up to any ``<rewrite_input>``. Then drops a leading label line, stray tags of the
    prompt, a pair of surrounding quotes, and surrounding whitespace.
    """
    tagged = between(REWRITE_TAG, reply)
    text = tagged if tagged is not None else reply
    cut = re.search(rf"<\s*/?\s*{REWRITE_INPUT_TAG}\s*>", text, re.IGNORECASE)
    if cut:
        text = text[: cut.start()]
    inner = between(INSTRUCTION_TAG, text)
    if inner:
        text = inner
    text = _OWN_TAGS.sub("", text).strip()
    for _ in range(2):  # a label may sit inside quotes, or quotes inside a label
        text = strip_quotes(strip_label(text))
    return text.strip()


def extract_input(reply: str) -> str | None:
    """The rewritten input data inside ``<rewrite_input>`` tags, or None when there is none."""
    found = between(REWRITE_INPUT_TAG, reply)
    if found is None:
        return None
    found = strip_quotes(found)
    return found if found else None


def _clauses(sentence: str) -> list[str]:
    return [part for part in re.split(r",\s+", sentence) if part.strip()]


def asks_for_something(text: str) -> bool:
    """Whether ``text`` reads as a request: a question, or a sentence that opens with a request.

    Looks at the first and the last sentence (where instructions put the question or the
    imperative) and at request phrases anywhere ("please", "make sure", "in no more than").
    """
    if _REQUEST_PHRASES.search(text):
        return True
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    if not sentences:
        return False
    for sentence in {sentences[0], sentences[-1]}:
        if sentence.rstrip().endswith("?"):
            return True
        for clause in _clauses(_LIST_MARKER.sub("", sentence)):
            first = _WORD.match(clause.strip())
            if first and first.group(0).lower() in _REQUEST_VERBS:
                return True
    return False


def looks_like_refusal(text: str) -> bool:
    """Whether ``text`` opens like a refusal ("I'm sorry, but...", "As an AI...").

    The phrases are :data:`evolkit._refusal.OPENING_REFUSALS`, matched by the same
    :func:`~evolkit._refusal.find_refusal` as the ``refusal`` filter's.
    """
    return find_refusal(text, OPENING_REFUSALS, opening=True) is not None


def looks_like_answer(
    text: str, parent_text: str, *, length_factor: float = 2.0, length_margin: int = 30
) -> bool:
    """Whether ``text`` answers ``parent_text`` instead of rewriting it.

    True when ``text`` asks for nothing (see :func:`asks_for_something`) and either opens like
    an answer ("Sure, ...", "The answer is ...", "Step 1") or is much longer than the parent:
    more than ``length_factor`` times its words plus ``length_margin``.
    """
    if asks_for_something(text):
        return False
    if _ANSWER_OPENERS.match(text):
        return True
    return word_count(text) > length_factor * word_count(parent_text) + length_margin
