"""The ``growth`` filter: an in-depth rewrite should grow its parent by a bounded number of words.

Evol-Instruct asks every in-depth step to add 10 to 20 words (WizardLM, arXiv 2304.12244).
A depth rewrite that adds almost nothing gained little; one that adds far more has usually
turned into a different, rambling task. The filter measures the words the instruction text
gained and

- drops a depth rewrite below or above its operator's band (``growth_too_small``,
  ``growth_too_large``);
- records, on every kept depth rewrite, how many words it added and where that falls
  against the method's target (``metadata["growth"] = {"added_words": 14, "target":
  "within"}``; ``"below"`` or ``"above"`` otherwise).

``bands`` maps an operator name, or a prefix of names ending in ``.``, to ``(least, most)``
added words; the longest matching key wins. Operators that match no key (breadth, math,
plugins' own) are kept without a growth record. By default each band is what the operator's
prompt asks for: 10 to 20 words, or at most 20 for ``depth.complicate_input``, whose data
grows instead. A looser band keeps more rows, and the record says where each one fell.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from evolkit._protocols import Backend
from evolkit._types import Instruction, Verdict
from evolkit.filters._by_operator import for_operator
from evolkit.filters.stopwords import words

__all__ = ["DEFAULT_BANDS", "TARGET_BAND", "GrowthFilter"]

TARGET_BAND = (10, 20)
"""The words an in-depth step should add, as the method's prompts ask."""

DEFAULT_BANDS: Mapping[str, tuple[int, int]] = {
    "depth.": TARGET_BAND,
    # Changing the data grows the input, not the instruction; its prompt allows at most 20
    # more words of instruction text.
    "depth.complicate_input": (0, TARGET_BAND[1]),
}
"""Added words a depth rewrite may have before it is dropped: what each operator's prompt asks."""


def _bands(value: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    out = {}
    for key, (least, most) in dict(value).items():
        if least > most:
            raise ValueError(f"growth band for {key!r}: {least} is more than {most}")
        out[key] = (int(least), int(most))
    return out


def _position(added: int, target: tuple[int, int]) -> str:
    if added < target[0]:
        return "below"
    return "above" if added > target[1] else "within"


@frozen(kw_only=True)
class GrowthFilter:
    """Keeps a depth rewrite whose added words lie in its operator's band (see the module)."""

    name: str = "growth"
    needs_response: bool = False
    bands: Mapping[str, tuple[int, int]] = field(default=DEFAULT_BANDS, converter=_bands)
    target: tuple[int, int] = TARGET_BAND

    def band(self, operator: str | None) -> tuple[int, int] | None:
        """The band of ``operator``: its own entry, else its longest matching prefix."""
        return for_operator(self.bands, operator)

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Drop a depth rewrite outside its band; record the growth of one inside it."""
        band = self.band(candidate.operator)
        if band is None:
            return Verdict.kept(self.name, "not_depth")
        added = len(words(candidate.text)) - len(words(parent.text))
        if added < band[0]:
            return Verdict.dropped(self.name, "growth_too_small", {"added_words": added})
        if added > band[1]:
            return Verdict.dropped(self.name, "growth_too_large", {"added_words": added})
        record = {"added_words": added, "target": _position(added, self.target)}
        return Verdict.kept(self.name, metadata={"growth": record})
