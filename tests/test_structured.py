"""Constrained replies (``--structured``): the schema each kind of call sends, and how a reply
that fits, or does not, is read. The model is a loopback HTTP server in a thread."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evolkit
from evolkit._markers import REWRITE_TAG, between
from evolkit._plugins import Plugins
from evolkit._protocols import ConstrainedBackend, ShapedMutator
from evolkit._registry import MutatorRegistry
from evolkit._shapes import (
    ReplyShape,
    ShapeMismatch,
    json_schema_format,
    rewrite_shape,
    score_shape,
    scores_shape,
    verdict_shape,
)
from evolkit._types import (
    ChatMessage,
    Instruction,
    Rejected,
    ScoreFailure,
    ScoreItem,
    Verdict,
)
from evolkit.backends.litellm import LiteLLMBackend
from evolkit.backends.openai_compat import OpenAICompatBackend
from evolkit.cli import main
from evolkit.engine.journal import request_key
from evolkit.errors import ConfigError
from evolkit.filters.information_gain import (
    JUDGE_EXAMPLES,
    REASONED_VERDICT_SHAPE,
    VERDICT_SHAPE,
    InformationGainFilter,
)
from evolkit.hookspecs import hookimpl
from evolkit.operators import ADD_CONSTRAINTS, COMPLICATE_INPUT
from evolkit.score._judge import ChainComplexityScorer, DifficultyScorer
from evolkit.testing import FakeBackend, arun_mutator, default_reply

SEEDS = [
    "Explain how a kite stays in the air.",
    "List three uses of vinegar in cooking.",
    "Describe how a bicycle pump works.",
]


class Recorder:
    """The bodies the loopback server was sent, and the function that answers them."""

    def __init__(self, answer: Callable[[dict[str, Any]], str]) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def formats(self) -> list[Any]:
        return [b.get("response_format") for b in self.bodies]


@contextmanager
def loopback(answer: Callable[[dict[str, Any]], str] | None = None) -> Iterator[Recorder]:
    """An OpenAI-compatible chat server on a free port, answering with ``answer(body)``
    (default: :func:`default_reply` on the messages)."""
    recorder = Recorder(answer or (lambda body: default_reply(body["messages"])))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with recorder.lock:
                recorder.bodies.append(body)
            text = recorder.answer(body)
            data = json.dumps(
                {
                    "model": body["model"],
                    "choices": [{"message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def lean(recorder: Recorder) -> OpenAICompatBackend:
    url = recorder.url
    return OpenAICompatBackend(
        "openai-compatible/m", {"api_base": url, "api_key": "k"}, priced=False
    )


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format")
    return None if fmt is None else fmt["json_schema"]["schema"]


# -- the declarations -------------------------------------------------------------------------


def test_each_shape_declares_its_exact_schema() -> None:
    plan = {"type": "string", "description": "one short sentence: what you will change"}
    rewrite = {"type": "string", "description": "the new instruction"}
    assert rewrite_shape().schema() == {
        "type": "object",
        "properties": {"plan": plan, "rewrite": rewrite},
        "required": ["plan", "rewrite"],
        "additionalProperties": False,
    }
    with_input = rewrite_shape(with_input=True).schema()
    assert with_input["required"] == ["plan", "rewrite", "input"]
    assert verdict_shape(("Equal", "Not Equal")).schema()["properties"] == {
        "verdict": {"type": "string", "enum": ["Equal", "Not Equal"]}
    }
    assert score_shape(1, 10).schema()["properties"] == {
        "score": {"type": "integer", "minimum": 1, "maximum": 10}
    }
    assert scores_shape(3, 1, 10).schema()["properties"]["scores"] == {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 10},
        "minItems": 3,
        "maxItems": 3,
    }
    assert json_schema_format(score_shape(1, 10)) == {
        "type": "json_schema",
        "json_schema": {"name": "score", "schema": score_shape(1, 10).schema(), "strict": True},
    }


@pytest.mark.parametrize(
    ("shape", "reply", "reason"),
    [
        (score_shape(1, 10), "Score: 7", "not_json"),
        (score_shape(1, 10), "[7]", "not_an_object"),
        (score_shape(1, 10), '{"score": 11}', "out_of_range"),
        (score_shape(1, 10), '{"score": 7.5}', "wrong_type"),
        (score_shape(1, 10), '{"score": true}', "wrong_type"),
        (score_shape(1, 10), '{"score": 7, "why": "x"}', "extra_field"),
        (verdict_shape(("Equal", "Not Equal")), '{"verdict": "equal"}', "not_allowed"),
        (scores_shape(2, 1, 10), '{"scores": [3]}', "wrong_count"),
        (scores_shape(2, 1, 10), '{"scores": [3, 0]}', "out_of_range"),
        (rewrite_shape(), '{"plan": "x"}', "missing_field"),
        (rewrite_shape(with_input=True), '{"rewrite": "x"}', "missing_field"),
        (rewrite_shape(), '{"plan": "", "rewrite": "  "}', "blank_field"),
    ],
)
def test_a_reply_that_does_not_fit_says_why(shape: ReplyShape, reply: str, reason: str) -> None:
    found = shape.read(reply)
    assert isinstance(found, ShapeMismatch)
    assert found.reason == reason


@settings(max_examples=40)
@given(
    plan=st.text(max_size=40),
    rewrite=st.text(min_size=1, max_size=80).filter(str.strip),
    score=st.integers(1, 10),
)
def test_a_reply_that_fits_reads_back(plan: str, rewrite: str, score: int) -> None:
    assert rewrite_shape().read(rewrite_shape().example(plan=plan, rewrite=rewrite)) == {
        "plan": plan.strip(),
        "rewrite": rewrite.strip(),
    }
    assert rewrite_shape().read(json.dumps({"rewrite": rewrite})) == {"rewrite": rewrite.strip()}
    assert score_shape(1, 10).read(f"```json\n{json.dumps({'score': score})}\n```") == {
        "score": score
    }


def test_builtin_operators_declare_their_shape_from_the_parent() -> None:
    assert isinstance(ADD_CONSTRAINTS, ShapedMutator)
    data = Instruction(text="Sort these numbers.", input="3, 1, 2")
    assert COMPLICATE_INPUT.reply_shape(data) == rewrite_shape(with_input=True)
    assert ADD_CONSTRAINTS.reply_shape(data) == rewrite_shape()
    text = ADD_CONSTRAINTS.build_messages(data, random.Random(1))
    shaped = ADD_CONSTRAINTS.build_shaped_messages(data, random.Random(1))
    assert shaped[0] == text[0]
    assert shaped[1]["content"].endswith(ADD_CONSTRAINTS.json_format)
    # the same variant is drawn either way
    assert shaped[1]["content"][:200] == text[1]["content"][:200]


# -- the capability ---------------------------------------------------------------------------


def test_backends_say_whether_they_constrain() -> None:
    backend = OpenAICompatBackend("openai-compatible/m", {"api_base": "http://x/v1"})
    assert isinstance(backend, ConstrainedBackend) and backend.constrains
    shape = rewrite_shape()
    assert backend.constraint(shape) == {"response_format": json_schema_format(shape)}
    assert LiteLLMBackend("ollama/qwen2.5").constrains  # litellm sends Ollama's `format`
    assert LiteLLMBackend("openai/m", {"api_base": "http://x/v1"}).constrains
    assert not isinstance(FakeBackend(), ConstrainedBackend)


def test_the_journal_key_holds_the_response_format() -> None:
    messages: list[ChatMessage] = [{"role": "user", "content": "hi"}]
    plain = {"temperature": 0.7}
    shaped = {**plain, "response_format": json_schema_format(rewrite_shape())}
    assert request_key("m", messages, plain) != request_key("m", messages, shaped)


def test_on_with_a_backend_that_cannot_is_one_line_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="--structured auto or off"):
        evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), structured="on")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n")
    argv = ["evolve", str(seeds), "-o", str(tmp_path / "o.jsonl"), "--model", "fake/x"]
    assert main([*argv, "--structured", "on", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--structured" in err


# -- a run against the loopback server --------------------------------------------------------


def _run(backend: Any, **settings: Any) -> evolkit.RunResult:
    return evolkit.evolve(
        SEEDS, rounds=1, backend=backend, filters=["information_gain"], **settings
    )


def test_each_call_of_a_run_sends_its_schema_and_a_fitting_reply_is_kept() -> None:
    with loopback() as server:
        result = _run(lean(server), structured="auto")
    assert result.stats.rows_per_round[1] == len(SEEDS)
    by_schema: dict[str, int] = {}
    for body in server.bodies:
        fmt = body.get("response_format")
        name = "none" if fmt is None else fmt["json_schema"]["name"]
        by_schema[name] = by_schema.get(name, 0) + 1
        if name == "rewrite":
            assert fmt == json_schema_format(rewrite_shape())
            assert body["messages"][-1]["content"].endswith(ADD_CONSTRAINTS.json_format)
        if name == "information_gain":
            assert fmt == json_schema_format(REASONED_VERDICT_SHAPE)
            first = json.loads(body["messages"][2]["content"])
            assert first == {"reason": JUDGE_EXAMPLES[0].why, "verdict": "Equal"}
    # the responses (to the seeds and to the children) are free text
    assert by_schema == {"none": 2 * len(SEEDS), "rewrite": len(SEEDS), "information_gain": 3}


def _tagged_rewrite(body: dict[str, Any]) -> str:
    """A model that ignores the schema: the rewrite in tags, as text parsing reads it."""
    if body.get("response_format", {}).get("json_schema", {}).get("name") == "rewrite":
        user = body["messages"][-1]["content"]
        original = between("instruction", user) or ""
        return f"<{REWRITE_TAG}>{original} Use exactly two examples.</{REWRITE_TAG}>"
    return default_reply(body["messages"])


def test_a_reply_that_does_not_fit_is_a_parse_failure_with_its_reason(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with loopback(_tagged_rewrite) as server:
        result = _run(lean(server), structured="auto", output=out)
    report = json.loads(out.with_name("o.jsonl.run.json").read_text())
    assert report["settings"]["structured"] == "on"
    assert report["stats"]["drop_reasons"] == {"unfit_reply:not_json": len(SEEDS)}
    assert result.stats.rows_per_round.get(1, 0) == 0
    assert result.stats.drop_reasons == {"unfit_reply:not_json": len(SEEDS)}


def test_off_sends_no_schema_and_reads_text_as_before() -> None:
    with loopback(_tagged_rewrite) as server:
        result = _run(lean(server), structured="off")
    assert result.stats.rows_per_round[1] == len(SEEDS)
    assert server.formats() == [None] * len(server.bodies)
    asked = [b["messages"][-1]["content"] for b in server.bodies]
    assert sum(text.endswith(ADD_CONSTRAINTS.output_format) for text in asked) == len(SEEDS)


class Plain:
    """A plugin operator that declares no shape: asked and read as text, whatever the run."""

    name = "test.plain"
    kind = "test"

    def applies_to(self, instruction: Instruction) -> bool:
        return True

    def build_messages(self, instruction: Instruction, rng: random.Random) -> list[ChatMessage]:
        return [{"role": "user", "content": f"Rewrite <{REWRITE_TAG}>: {instruction.text}"}]

    def parse(self, reply: str, parent: Instruction) -> Instruction | Rejected:
        return parent.derive(parent.text + " Give two reasons.")


class PlainPlugin:
    @hookimpl
    def evolkit_register_mutators(self, registry: MutatorRegistry) -> None:
        registry.add(Plain(), default=False)


def test_an_operator_without_a_shape_keeps_text_parsing() -> None:
    plugins = Plugins.load(entry_points=False)
    plugins.register(PlainPlugin(), name="plain")
    with loopback() as server:
        result = evolkit.evolve(
            SEEDS,
            rounds=1,
            backend=lean(server),
            operators="test.plain",
            filters=[],
            plugins=plugins,
        )
    assert result.stats.rows_per_round[1] == len(SEEDS)
    assert server.formats() == [None] * len(server.bodies)


# -- the judge and the scorers on their own ---------------------------------------------------


def test_the_judge_sends_the_verdict_schema_and_counts_an_unfit_reply() -> None:
    parent = Instruction(text="Name three rivers.")
    child = Instruction(text="Name three rivers in Asia and their lengths.")
    judge = InformationGainFilter(reason_first=False)
    replies = iter(['{"verdict": "Equal"}', '{"verdict": "Equal"}', '{"verdict": "maybe"}'])

    async def both(server: Recorder) -> tuple[Verdict, Verdict]:
        async with lean(server) as backend:
            return (
                await judge.judge(child, parent, backend),
                await judge.judge(child, parent, backend),
            )

    with loopback(lambda body: next(replies)) as server:
        dropped, unclear = asyncio.run(both(server))
    assert not dropped.keep and dropped.reason == "no_information_gain"
    assert unclear.keep and unclear.reason == "unfit_reply:not_allowed"
    assert server.formats() == [json_schema_format(VERDICT_SHAPE)] * 3


def test_a_judge_asked_for_a_reason_first_sends_that_schema_and_reads_its_label() -> None:
    parent = Instruction(text="Name three rivers.")
    child = Instruction(text="Name three rivers in Asia and their lengths.")
    judge = InformationGainFilter(double_check=False)  # the reason first, by default
    replies = iter([
        '{"reason": "The second adds a continent and lengths.", "verdict": "Not Equal"}',
        '{"reason": "Only reworded.", "verdict": "Equal"}',
        '{"reason": "It asks for lengths."}',
    ])  # fmt: skip

    async def three(server: Recorder) -> list[Verdict]:
        async with lean(server) as backend:
            return [await judge.judge(child, parent, backend) for _ in range(3)]

    with loopback(lambda body: next(replies)) as server:
        kept, dropped, unclear = asyncio.run(three(server))
    assert kept.keep and kept.reason == "ok"
    assert not dropped.keep and dropped.reason == "no_information_gain"
    assert unclear.keep and unclear.reason == "unfit_reply:missing_field"
    assert server.formats() == [json_schema_format(REASONED_VERDICT_SHAPE)] * 3
    examples = judge.build_messages(child, parent, structured=True)[2::2]
    assert [json.loads(m["content"])["reason"] for m in examples] == [e.why for e in judge.examples]


def test_the_scorers_send_their_schemas_and_count_an_unfit_reply() -> None:
    seed = Instruction(text="Add 2 and 3.")
    item = ScoreItem(seed)
    replies = iter(['{"score": 4}', '{"score": 12}', '{"scores": [2, 5]}'])
    chain = ScoreItem(Instruction(text="Add 2 and 3, then double it."), (seed,))

    async def three(server: Recorder) -> list[float | ScoreFailure]:
        async with lean(server) as backend:
            return [
                await DifficultyScorer().score(item, backend),
                await DifficultyScorer().score(item, backend),
                await ChainComplexityScorer().score(chain, backend),
            ]

    with loopback(lambda body: next(replies)) as server:
        fits, unfit, last = asyncio.run(three(server))
    assert fits == 4.0
    assert isinstance(unfit, ScoreFailure) and unfit.reason == "unfit_reply:out_of_range"
    assert last == 5.0
    formats = server.formats()
    assert formats[0] == formats[1] == json_schema_format(score_shape(1, 10))
    assert formats[2] == json_schema_format(scores_shape(2, 1, 10))
    assert server.bodies[0]["messages"][-1]["content"].endswith('{"score": N}')


def test_arun_mutator_asks_as_the_engine_does() -> None:

    async def both(server: Recorder) -> list[Instruction | Rejected]:
        async with lean(server) as backend:
            return [
                await arun_mutator(ADD_CONSTRAINTS, SEEDS[0], backend),
                await arun_mutator(ADD_CONSTRAINTS, SEEDS[0], backend, structured="off"),
            ]

    with loopback() as server:
        shaped, plain = asyncio.run(both(server))
    assert isinstance(shaped, Instruction) and isinstance(plain, Instruction)
    for child in (shaped, plain):
        assert child.text.startswith(SEEDS[0]) and child.text != SEEDS[0]
    assert server.formats() == [json_schema_format(rewrite_shape()), None]
