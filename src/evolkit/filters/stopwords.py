"""The ``stopwords`` filter: drop a candidate whose response is only punctuation and stop words."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

from attrs import field, frozen

from evolkit._phrases import normalise_quotes
from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict

__all__ = ["StopwordsFilter", "english_stopwords", "words"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@functools.lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """evolkit's English stop-word list (``stopwords_en.txt``), lower case."""
    text = resources.files("evolkit.filters").joinpath("stopwords_en.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def words(text: str) -> list[str]:
    """The words of ``text`` (runs of letters and digits, with inner apostrophes), case-folded."""
    return [w.casefold() for w in _WORD.findall(normalise_quotes(text))]


def _word_set(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(w.casefold() for w in value)


@frozen(kw_only=True)
class StopwordsFilter:
    """Drops a candidate whose response has no content word: ``only_stopwords``.

    A response made only of punctuation and stop words ("The.", "it is what it is", "...")
    carries no answer. Any number or any word outside the list keeps the candidate.
    ``stopwords`` replaces the built-in English list (:func:`english_stopwords`).
    A candidate without a response is kept (``no_response``).
    """

    name: str = "stopwords"
    needs_response: bool = True
    stopwords: frozenset[str] | None = field(default=None, converter=_word_set, repr=False)

    def content_words(self, text: str) -> list[str]:
        """The words of ``text`` that are not stop words."""
        stop = english_stopwords() if self.stopwords is None else self.stopwords
        return [w for w in words(text) if w not in stop]

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a response without a single content word."""
        if candidate.response is None:
            return Verdict.kept(self.name, "no_response")
        if not self.content_words(candidate.response):
            return Verdict.dropped(self.name, "only_stopwords")
        return Verdict.kept(self.name)
