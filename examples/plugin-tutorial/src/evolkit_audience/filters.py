"""The ``audience.word_limit`` filter: drop a candidate whose answer is too long to read."""

from attrs import frozen

from evolkit import Backend, Instruction, Verdict


@frozen(kw_only=True)
class WordLimit:
    """Drops a candidate whose response has more than ``max_words`` words."""

    name: str = "audience.word_limit"
    needs_response: bool = True
    max_words: int = 300

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        if candidate.response is None:
            return Verdict.kept(self.name, "no_response")
        if len(candidate.response.split()) > self.max_words:
            return Verdict.dropped(self.name, "too_long")
        return Verdict.kept(self.name)
