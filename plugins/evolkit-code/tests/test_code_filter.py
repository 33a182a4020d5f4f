"""``code.python_parses``: responses it must drop, responses it must keep, and its helpers."""

from __future__ import annotations

import pytest
from evolkit import Filter, Verdict
from evolkit.testing import run_filter

from evolkit_code import PythonParsesFilter, code_blocks, looks_like_python, parses, python_blocks

TASK = "Write a Python function that returns the second largest number in a list."
FLT = PythonParsesFilter()

GOOD = """Sort a copy and skip duplicates:

```python
def second_largest(xs: list[int]) -> int | None:
    unique = sorted(set(xs))
    return unique[-2] if len(unique) > 1 else None
```

It runs in O(n log n)."""

KEEP = {
    "valid_python": GOOD,
    "no_code": "Sort the numbers, drop duplicates, and take the one before the last.",
    "other_language": "In C:\n```c\nint f(int *a, int n) { return a[n-2]; }\n```",
    "untagged_not_python": "```\nfor (int i = 0; i < n; i++) {\n    sum += a[i];\n}\n```",
    "shell_block": "Install it first:\n```bash\npip install numpy\n```",
    "untagged_python": "```\nimport heapq\nprint(heapq.nlargest(2, [3, 1, 4])[-1])\n```",
    "doctest_session": (
        "```pycon\n>>> max([1, 2])\n2\n```\n```python\n>>> sorted([3, 1])[-1]\n3\n```"
    ),
    "magic_lines": "```python\n%timeit sorted(xs)\n!pip install numpy\nx = sorted([2, 1])\n```",
    "escape_warning": '```python\nimport re\npattern = re.compile("\\d+")\n```',
    "indented_fence": "Steps:\n   ```py\n   total = sum(range(10))\n   ```",
    "py3_tag": '```python3 title="a.py"\nvalues = [1, 2, 3]\n```',
    "tilde_is_not_a_fence": "~~~python\ndef broken(:\n~~~",
}

DROP = {
    "missing_colon": "```python\ndef second_largest(xs)\n    return sorted(xs)[-2]\n```",
    "unbalanced_parenthesis": "```py\nprint(max([1, 2, 3])\n```",
    "bad_indent": "```python\ndef f():\nreturn 1\n```",
    "second_block_broken": GOOD + "\n\n```python\nelse:\n    pass\n```",
    "untagged_python_broken": "```\ndef f(x):\n    return x +\n```",
    "cut_off_reply": "```python\ndef second_largest(xs):\n    return sorted(set(xs))[",
    "bad_doctest": "```python\n>>> def f(:\n...     pass\n```",
    "python2_print": "```python\nprint 'hello'\n```",
}


@pytest.mark.parametrize("response", KEEP.values(), ids=KEEP.keys())
def test_keeps(response: str) -> None:
    verdict = run_filter(FLT, TASK, response=response)
    assert verdict.keep, verdict


@pytest.mark.parametrize("response", DROP.values(), ids=DROP.keys())
def test_drops(response: str) -> None:
    assert run_filter(FLT, TASK, response=response) == Verdict.dropped(
        "code.python_parses", "python_syntax_error"
    )


def test_keep_reasons() -> None:
    assert run_filter(FLT, TASK, response=GOOD) == Verdict.kept("code.python_parses", "ok")
    assert run_filter(FLT, TASK, response=KEEP["no_code"]).reason == "no_code"
    assert run_filter(FLT, TASK, response=KEEP["other_language"]).reason == "no_code"
    assert run_filter(FLT, TASK).reason == "no_response"


def test_it_is_a_filter_that_needs_the_response() -> None:
    assert isinstance(FLT, Filter)
    assert FLT.name == "code.python_parses"
    assert FLT.needs_response is True


def test_code_blocks_reads_languages_and_bodies() -> None:
    blocks = code_blocks("a\n```Python\nx = 1\n```\nb\n```\ny = 2\n```\n````md\n```\n````")
    assert [(b.language, b.code) for b in blocks] == [
        ("python", "x = 1\n"),
        ("", "y = 2\n"),
        ("md", "```\n"),
    ]


def test_python_blocks_chooses_what_to_check() -> None:
    text = "```js\nlet x = 1;\n```\n```\nimport os\n```\n```python\npass\n```"
    assert python_blocks(text) == ["import os\n", "pass\n"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def f(x):\n    return x\n", True),
        ("for item in items:\n    print(item)\n", True),
        ("from collections import Counter\n", True),
        ("function f(x) {\n  return x;\n}\n", False),
        ("#include <stdio.h>\nint main() { return 0; }\n", False),
        ("const f = (x) => x * 2\n", False),
        ("SELECT name FROM users;\n", False),
        ("just some words\n", False),
    ],
)
def test_looks_like_python(code: str, expected: bool) -> None:
    assert looks_like_python(code) is expected


def test_parses() -> None:
    assert parses("x = 1\n")
    assert parses("    y = 2\n    z = y\n")  # indented as a whole: dedented first
    assert not parses("x = = 1\n")
    assert not parses("x = 1\0\n")
    assert not parses("(" * 5000 + ")" * 5000)  # too deep for the parser: not valid code here
