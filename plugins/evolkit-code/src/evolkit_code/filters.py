"""``code.python_parses``: drop a response whose Python code does not parse.

The code checked is every fenced block tagged ``python`` (or ``py``, ``python3``, ``py3``) and
every untagged fenced block that looks like Python; blocks tagged with another language are
left alone. Interactive sessions (``>>>`` prompts) are read as their source lines, and IPython
magics (``%timeit``, ``!pip``) are skipped. A response without such code is kept.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

from attrs import frozen
from evolkit import Backend, Instruction, Verdict

__all__ = [
    "PYTHON_TAGS",
    "CodeBlock",
    "PythonParsesFilter",
    "code_blocks",
    "looks_like_python",
    "parses",
    "python_blocks",
]

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})

# An opening fence (up to three spaces of indent, three or more backticks, an optional info
# string), the body, and the matching closing fence or the end of the text (a cut-off reply).
_FENCE = re.compile(
    r"^[ ]{0,3}(?P<fence>`{3,})[ \t]*(?P<info>[^`\n]*)\n(?P<body>.*?)"
    r"(?:^[ ]{0,3}(?P=fence)`*[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE,
)
_PY_SIGNAL = re.compile(
    r"^\s*(?:def\s+\w+\s*\(|async\s+def\s|class\s+\w+\s*[(:]|import\s+\w|"
    r"from\s+[\w.]+\s+import\s|(?:if|elif|while|for|with|try|except|else|finally)\b"
    r"[^\n]*:\s*(?:#[^\n]*)?$|print\(|>>>\s)",
    re.MULTILINE,
)
_OTHER_SIGNAL = re.compile(
    r"[;{]\s*$|^\s*\}|^\s*#include\b|\bfunction\s*\w*\s*\(|\b(?:public|private|static)\s|"
    r"\b(?:const|let|var)\s+\w+\s*=|=>|\bstd::|\bconsole\.|\bfn\s+\w+\s*\(|"
    r"^\s*(?:SELECT|INSERT)\b",
    re.MULTILINE,
)


@frozen
class CodeBlock:
    """One fenced block: its language tag (lower case, may be empty) and its text."""

    language: str
    code: str


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced code block of ``text``, in order."""
    blocks = []
    for match in _FENCE.finditer(text):
        info = match.group("info").strip().split()
        language = info[0].lower().lstrip(".{") if info else ""
        blocks.append(CodeBlock(language, match.group("body")))
    return blocks


def looks_like_python(code: str) -> bool:
    """Whether untagged ``code`` reads as Python: a Python line, and nothing of C, JS, Java..."""
    return bool(_PY_SIGNAL.search(code)) and not _OTHER_SIGNAL.search(code)


def python_blocks(text: str) -> list[str]:
    """The code of the blocks of ``text`` that :class:`PythonParsesFilter` checks."""
    return [
        b.code
        for b in code_blocks(text)
        if b.language in PYTHON_TAGS or (not b.language and looks_like_python(b.code))
    ]


def _source(code: str) -> str:
    lines = code.splitlines()
    if any(line.lstrip().startswith(">>>") for line in lines):
        kept = []
        for line in lines:
            stripped = line.lstrip()
            if stripped.startswith(">>>") or stripped.startswith("..."):
                kept.append(stripped[4:] if len(stripped) > 3 else "")
        lines = kept
    lines = [line for line in lines if not line.lstrip().startswith(("%", "!"))]
    return textwrap.dedent("\n".join(lines))


def parses(code: str) -> bool:
    """Whether ``code`` is valid Python for this interpreter's ``ast.parse``."""
    try:
        with warnings.catch_warnings():
            # "invalid escape sequence" and similar warnings are not syntax errors.
            warnings.simplefilter("ignore")
            ast.parse(_source(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@frozen(kw_only=True)
class PythonParsesFilter:
    """Drops a candidate whose response has Python code that does not parse.

    Reasons: ``python_syntax_error`` (dropped); ``ok`` (every Python block parses),
    ``no_code`` (no Python block) and ``no_response`` (kept). Code is parsed with the grammar
    of the Python running evolkit.
    """

    name: str = "code.python_parses"
    needs_response: bool = True

    async def judge(self, candidate: Instruction, parent: Instruction, backend: Backend) -> Verdict:
        """Keep a response with valid Python code or none; drop one with a syntax error."""
        if candidate.response is None:
            return Verdict.kept(self.name, "no_response")
        blocks = python_blocks(candidate.response)
        if not blocks:
            return Verdict.kept(self.name, "no_code")
        if all(parses(code) for code in blocks):
            return Verdict.kept(self.name)
        return Verdict.dropped(self.name, "python_syntax_error")
