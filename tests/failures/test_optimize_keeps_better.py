"""``optimize`` never writes a method that scores worse on the dev set than the one it started
from: the current method is one of each step's candidates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evolkit._types import ChatMessage
from evolkit.auto import INITIAL_METHOD, Method
from evolkit.auto import _prompts as prompts
from fakeserver import FakeServer
from test_auto import DEV, SEEDS, Script


class OnlyWorse(Script):
    """Every candidate the optimizer writes is ALPHA, whose rewrites all fail; the initial
    method's all pass."""

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        if messages[0]["content"] == prompts.REWRITE_METHOD_SYSTEM:
            return (
                "<method>Method ALPHA. Rewrite the instruction adding 10 to 20 words, then "
                "give only the final instruction.</method>"
            )
        return super().__call__(messages)


def test_a_step_whose_candidates_all_score_worse_keeps_the_current_method(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-optimize-0000")
    (tmp_path / "seeds.txt").write_text("\n".join(SEEDS) + "\n")
    (tmp_path / "dev.txt").write_text("\n".join(DEV) + "\n")
    out = tmp_path / "method.toml"
    with FakeServer(handler=OnlyWorse()).run_in_thread() as server:
        argv = ["optimize", str(tmp_path / "seeds.txt"), "--dev", str(tmp_path / "dev.txt")]
        argv += ["-o", str(out), "--model", "openai/fake", "--api-base", server.url]
        argv += ["--steps", "1", "--candidates", "2", "--batch-size", "2", "--cache", "off"]
        code, err, _ = cli(argv)
    assert code == 0, err
    method = Method.load(out)
    assert method.prompt == INITIAL_METHOD  # the worse candidates were not written
    step0, step1 = method.steps
    assert [c.failure_rate for c in step1.candidates[:2]] == [1.0, 1.0]
    assert step1.chosen == 2 and step1.best.failure_rate == step0.best.failure_rate < 1.0
