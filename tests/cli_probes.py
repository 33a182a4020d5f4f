"""The probes of every command's guarantees (issue "nothing lost, nothing wrong, nothing
leaked"), run from outside: each one starts ``evolkit`` in a child process against a server on
loopback and checks the data it leaves (rows, nulls, scores, request counts, the files
written), not only the exit code. ``tests/failures/test_cli_defects.py`` runs each one as a
test; ``benchmarks/probes.py`` runs them repeatedly and prints how many held.

A probe holds when the command did what it promises: it completed with the right data, or it
refused or stopped in one line (``error: ...``), exit status 2 (1 for ``score`` with missing
scores), no traceback, with nothing lost and no key in what it wrote. Children use the lean
transport (``openai-compatible/``), which does not import litellm, except where the probe is
about the litellm path (a router config).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from evolkit import Instruction
from evolkit.auto import INITIAL_METHOD, Method
from evolkit.auto import _prompts as prompts
from evolkit.refilter._cli import JOURNAL_NAME as FILTER_JOURNAL
from evolkit.testing import default_reply
from fakeserver import FakeServer, FaultPlan
from process_tools import LEAKS, journaled, serving

KEY = "sk-probe-0123456789abcdef"
SHORT_KEY = "tok1234"
CLI = "import sys\n{prelude}\nfrom evolkit.cli import main\nsys.exit(main(sys.argv[1:]))"
FULL_DISK = """
import sqlite3
from evolkit.engine.journal import Journal
def _full(self, rows):
    raise sqlite3.OperationalError("database or disk is full")
Journal._commit = _full
"""


class Run:
    """One finished ``evolkit`` child: exit code, non-blank stderr lines, whether it hung."""

    def __init__(self, code: int, err: list[str], hung: bool) -> None:
        self.code, self.err, self.hung = code, err, hung

    def one_line(self, code: int = 2, *words: str) -> bool:
        line = self.err[0] if len(self.err) == 1 else ""
        return (
            not self.hung
            and self.code == code
            and line.startswith("error: ")
            and all(w in line for w in words)
        )


def spawn(args: Sequence[str], key: str = KEY, prelude: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "OPENAI_API_KEY": key}
    code = CLI.format(prelude=prelude)
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def cli(args: Sequence[Any], key: str = KEY, timeout: float = 120, prelude: str = "") -> Run:
    proc = spawn(args, key, prelude)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return Run(-9, err.splitlines(), True)
    return Run(proc.returncode, [line for line in err.splitlines() if line.strip()], False)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def model(url: str) -> list[str]:
    return ["--model", "openai-compatible/fake", "--api-base", url]


def evolkit_rows(folder: Path, count: int = 6, name: str = "rows.jsonl") -> Path:
    seeds = [
        Instruction(text=f"Describe the market of town {i}.", response=f"Town {i} sells fish.")
        for i in range(count)
    ]
    children = [
        Instruction(
            text=f"{s.text} Name three stalls.",
            parent_id=s.id,
            operator="x",
            round=1,
            response="Fish, bread and cheese.",
        )
        for s in seeds
    ]
    data = folder / name
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in [*seeds, *children]))
    return data


def seeds_file(folder: Path, count: int = 12) -> Path:
    path = folder / "seeds.txt"
    path.write_text("".join(f"Plan a weekend trip to city number {i}.\n" for i in range(count)))
    return path


@contextlib.contextmanager
def fake(**options: Any) -> Iterator[FakeServer]:
    with FakeServer(**options).run_in_thread() as server:
        yield server


class Plain:
    """A bare server's address and the requests it received."""

    def __init__(self) -> None:
        self.url = ""
        self.requests = 0


@contextlib.contextmanager
def plain_server(answer: Callable[[str], tuple[int, dict[str, Any]]]) -> Iterator[Plain]:
    """A bare HTTP server whose every reply is ``answer(key it was given)``: a status and a
    JSON body, sent whole whatever the request asked (no ``max_tokens`` cut)."""
    seen = Plain()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests += 1
            status, reply = answer(self.headers.get("Authorization", "").removeprefix("Bearer "))
            body = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        seen.url = url
        yield seen


@contextlib.contextmanager
def echoing_server() -> Iterator[str]:
    """A server that refuses every call with a 400 whose message repeats the key it got."""
    with plain_server(
        lambda key: (400, {"error": {"message": f"Request refused for key {key}"}})
    ) as seen:
        yield seen.url


def completion(text: str) -> dict[str, Any]:
    """An OpenAI-style chat completion answering ``text``."""
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }  # fmt: skip


# -- the probes ---------------------------------------------------------------------------------


def resume_unanswered(transport: str) -> Callable[[Path], bool]:
    """A run whose seed answers partly failed, run again on a healthy server: every row
    answered, by the lean transport or (``litellm``) through litellm."""

    def probe(folder: Path) -> bool:
        seeds, out = seeds_file(folder), folder / "out.jsonl"
        plan = FaultPlan(rate_500=0.3, max_faults_per_request=1)
        with fake(faults=plan, api_key=KEY, seed=3) as server:
            name = "openai/fake" if transport == "litellm" else "openai-compatible/fake"
            argv = ["evolve", seeds, "-o", out, "--rounds", "1", "-q", "--api-base", server.url,
                    "--model", name]  # fmt: skip
            first = cli([*argv, "--retries", "0"])
            faulted = sum(server.snapshot().faults.values())
            again = cli(argv)
        said = first.code == 0 or first.one_line()
        answered = [r["output"] for r in rows(out)]
        return faulted > 0 and said and again.code == 0 and len(answered) >= 12 and all(answered)

    return probe


def output_is_input(command: str, link: bool) -> Callable[[Path], bool]:
    def probe(folder: Path) -> bool:
        data = evolkit_rows(folder)
        before = data.read_bytes()
        out = data
        if link:
            out = folder / "link.jsonl"
            out.symlink_to(data)
        with fake(api_key=KEY) as server:
            argv = {
                "evolve": ["evolve", data, "-o", out, *model(server.url), "-q"],
                "export": ["export", data, out, "--format", "alpaca"],
                "filter": ["filter", data, "-o", out, "--filters", "information_gain",
                           *model(server.url)],
                "score": ["score", data, "-o", out, "--scores", "complexity", "-q"],
                "select": ["select", data, "-o", out, "--budget", "2", "--by", "complexity"],
            }[command]  # fmt: skip
            run = cli(argv)
            sent = server.snapshot().requests
        return run.one_line(2, "is the input") and data.read_bytes() == before and sent == 0

    return probe


def cache_api_base(folder: Path) -> bool:
    """score on a second server with the same cache file gets the second server's scores."""
    data, cache = evolkit_rows(folder), folder / "cache.sqlite"
    with (
        fake(handler=lambda m: "Score: 3", api_key=KEY) as first,
        fake(handler=lambda m: "Score: 8", api_key=KEY) as second,
    ):
        for server, out in ((first, "a.jsonl"), (second, "b.jsonl")):
            run = cli(["score", data, "-o", folder / out, "--scores", "quality", "-q",
                       "--cache", cache, *model(server.url)])  # fmt: skip
            if run.code != 0:
                return False
        sent = second.snapshot().requests
    scores = [r["metadata"]["scores"]["quality"] for r in rows(folder / "b.jsonl")]
    return sent == len(scores) and scores == [8.0] * len(scores)


def seeds_by_content(kind: str) -> Callable[[Path], bool]:
    def probe(folder: Path) -> bool:
        texts = [f"List {n} ways to save water." for n in ("two", "three", "four")]
        lines = "".join(json.dumps({"instruction": t}) + "\n" for t in texts)
        out = folder / "out.jsonl"
        with fake(api_key=KEY) as server:
            args = ["-o", str(out), *model(server.url), "--rounds", "0", "-q"]
            if kind == "process-substitution":
                (folder / "seeds.jsonl").write_text(lines)
                command = 'exec "$0" -c "$1" evolve <(cat "$2") "${@:3}"'
                code = CLI.format(prelude="")
                env = {**os.environ, "OPENAI_API_KEY": KEY}
                done = subprocess.run(
                    ["bash", "-c", command, sys.executable, code, folder / "seeds.jsonl", *args],
                    env=env, capture_output=True, timeout=120,
                )  # fmt: skip
                if done.returncode != 0:
                    return False
            else:
                seeds = folder / ("seeds.txt" if kind == "jsonl-in-txt" else "seeds")
                seeds.write_text(lines if kind == "jsonl-in-txt" else json.dumps(
                    [{"instruction": t} for t in texts]))  # fmt: skip
                if cli(["evolve", seeds, *args]).code != 0:
                    return False
        return sorted(r["instruction"] for r in rows(out)) == sorted(texts)

    return probe


def score_lock(folder: Path) -> bool:
    """Two score runs on one file 0.3 s apart: the second refuses, the first's scores stay."""
    data = evolkit_rows(folder)
    with fake(latency=0.2, handler=lambda m: "Score: 5", api_key=KEY) as server:
        argv = ["score", data, "--scores", "quality", "--cache", "off", "-q", *model(server.url),
                "--concurrency", "1"]  # fmt: skip
        first = spawn(argv)
        time.sleep(0.3)
        second = cli(argv)
        first.communicate(timeout=120)
    scores = [r["metadata"]["scores"].get("quality") for r in rows(data)]
    return (
        first.returncode == 0
        and second.one_line(2, "is being written")
        and (scores == [5.0] * len(scores))
    )


def score_workdirs(folder: Path) -> bool:
    """Two scorings into two files: two work directories, each run's calls its own."""
    data = evolkit_rows(folder)
    with fake(handler=lambda m: "Score: 6", api_key=KEY) as server:
        for name in ("a.jsonl", "b.jsonl"):
            cli(["score", data, "-o", folder / name, "--scores", "quality", "--cache", "off",
                 "-q", *model(server.url)])  # fmt: skip
        sent = server.snapshot().requests
    dirs = [folder / f"{n}.evolkit" for n in ("a.jsonl", "b.jsonl")]
    return sent == 2 * len(rows(data)) and all(d.is_dir() for d in dirs)


def score_temp_swept(folder: Path) -> bool:
    data = evolkit_rows(folder)
    stale = folder / ".s.jsonl.abc123.tmp"
    stale.write_text("left by a killed run")
    with fake(handler=lambda m: "Score: 5", api_key=KEY) as server:
        run = cli(["score", data, "-o", folder / "s.jsonl", "--scores", "quality", "-q",
                   "--cache", "off", *model(server.url)])  # fmt: skip
    return run.code == 0 and not stale.exists() and len(rows(folder / "s.jsonl")) == 12


class _WorseMethods:
    """The optimizer writes only methods whose rewrites come back empty."""

    def __call__(self, messages: Sequence[Any]) -> str:
        if messages[0]["content"] == prompts.REWRITE_METHOD_SYSTEM:
            return "<method>Method ALPHA. Rewrite it, then give the final instruction.</method>"
        if "Method ALPHA" in messages[-1]["content"]:
            return ""
        return default_reply(messages)


def optimize_not_worse(folder: Path) -> bool:
    seeds, dev = seeds_file(folder, 4), folder / "dev.txt"
    dev.write_text("".join(f"Explain the rules of game number {i}.\n" for i in range(4)))
    out = folder / "method.toml"
    with fake(handler=_WorseMethods(), api_key=KEY) as server:
        argv = ["optimize", seeds, "--dev", dev, "-o", out, *model(server.url), "--steps", "1"]
        run = cli([*argv, "--candidates", "2", "--batch-size", "2", "--cache", "off", "-q"])
    if run.code != 0:
        return False
    method = Method.load(out)
    return method.prompt == INITIAL_METHOD and (
        method.steps[-1].best.failure_rate <= method.steps[0].best.failure_rate
    )


def secret_masked(given: str) -> Callable[[Path], bool]:
    def probe(folder: Path) -> bool:
        seeds, out = seeds_file(folder, 3), folder / "out.jsonl"
        with echoing_server() as url:
            if given == "environment":
                run = cli(["evolve", seeds, "-o", out, *model(url), "--rounds", "1", "-q",
                           "--max-failure-rate", "1"], key=SHORT_KEY)  # fmt: skip
            else:
                router = folder / "router.toml"
                router.write_text(
                    '[[model_list]]\nmodel_name = "fake"\nlitellm_params = { model = '
                    f'"openai/fake", api_base = "{url}", api_key = "{SHORT_KEY}" }}\n'
                )
                argv = ["evolve", seeds, "-o", out, "--router-config", router, "--rounds", "1"]
                run = cli([*argv, "-q", "--max-failure-rate", "1"], key="unused-key-value")
        files = [p for p in folder.rglob("*") if p.is_file() and p.name != "router.toml"]
        stored = "".join(p.read_bytes().decode("utf-8", "replace") for p in files)
        return bool(files) and SHORT_KEY not in stored and SHORT_KEY not in "\n".join(run.err)

    return probe


def filter_journal(folder: Path) -> bool:
    """filter killed midway and run again re-sends at most the calls that were in flight."""
    data = evolkit_rows(folder, 30)
    out = folder / "out.jsonl"
    argv = ["filter", data, "-o", out, "--filters", "information_gain", "--concurrency", "4"]
    with fake(latency=0.05, api_key=KEY) as server:
        clean = cli([*argv[:3], folder / "clean.jsonl", *argv[4:], *model(server.url)])
        calls = server.snapshot().requests
        server.reset_stats()
        proc = spawn([*argv, *model(server.url)])
        deadline = time.monotonic() + 60
        while journaled(out, FILTER_JOURNAL) < calls // 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        again = cli([*argv, *model(server.url)])
        sent = server.snapshot().requests
    same = out.read_bytes() == (folder / "clean.jsonl").read_bytes()
    return clean.code == 0 and again.code == 0 and same and sent <= calls + 4


def evolve_kill_repeats(folder: Path) -> bool:
    """evolve killed (-9) midway and run again re-sends at most ``--concurrency`` calls."""
    seeds, out = seeds_file(folder, 16), folder / "out.jsonl"
    argv = ["--rounds", "2", "-q", "--concurrency", "4", "--no-hedge"]
    with fake(latency=0.05, api_key=KEY) as server:
        clean = cli(["evolve", seeds, "-o", folder / "clean.jsonl", *model(server.url), *argv])
        calls = server.snapshot().requests
        server.reset_stats()
        proc = spawn(["evolve", seeds, "-o", out, *model(server.url), *argv])
        deadline = time.monotonic() + 60
        while journaled(out) < calls // 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        again = cli(["evolve", seeds, "-o", out, *model(server.url), *argv])
        sent = server.snapshot().requests
    same = out.read_bytes() == (folder / "clean.jsonl").read_bytes()
    return clean.code == 0 and again.code == 0 and same and calls < sent <= calls + 4


def big_reply_journal(folder: Path) -> bool:
    """Seed answers of 2 MB are dropped as too long, kept in the journal without their text,
    and a run again reaches the same rows without a call."""
    seeds, out = seeds_file(folder, 3), folder / "out.jsonl"
    big = "word " * 400_000  # 2 MB
    argv = ["evolve", seeds, "-o", out, "--rounds", "0", "-q", "--allow-unanswered",
            "--max-failure-rate", "1"]  # fmt: skip
    with plain_server(lambda key: (200, completion(big))) as server:
        first = cli([*argv, *model(server.url)])
        before = out.read_bytes() if out.exists() else b""
        asked = server.requests
        again = cli([*argv, *model(server.url)])
        sent = server.requests - asked
    work = folder / "out.jsonl.evolkit"
    stored = sum(p.stat().st_size for p in work.rglob("*journal*") if p.is_file())
    report = json.loads((folder / "out.jsonl.run.json").read_text())["stats"]
    drops = [d["reason"] for d in rows(work / "drops-0000.jsonl")]
    nulls = [r["output"] for r in rows(out)]
    return (
        first.code == 0 and again.code == 0 and asked == 3 and sent == 0
        and out.read_bytes() == before
        and drops == ["reply_too_long"] * 3 and report["seed_response_failures"] == 3
        and nulls == [None] * 3 and stored < 200_000
    )  # fmt: skip


def score_long_instruction(folder: Path) -> bool:
    """A row longer than the seeds' size limit is never sent by score: counted, with a reason."""
    data = evolkit_rows(folder, 2)
    long_row = Instruction(text="Summarise: " + "lorem " * 20_000)  # 120,011 characters
    with data.open("a") as fh:
        fh.write(json.dumps(long_row.to_record()) + "\n")
    longest: list[int] = [0]

    def judge(messages: Sequence[Any]) -> str:
        longest[0] = max(longest[0], max(len(m["content"]) for m in messages))
        return "Score: 7"

    with fake(handler=judge, api_key=KEY) as server:
        run = cli(["score", data, "-o", folder / "s.jsonl", "--scores", "quality", "-q",
                   "--cache", "off", *model(server.url)])  # fmt: skip
        sent = server.snapshot().requests
    scored = rows(folder / "s.jsonl")
    failures = [r["metadata"].get("score_failures", {}).get("quality") for r in scored]
    no_trace = not any(leak in "\n".join(run.err) for leak in LEAKS)
    return (
        run.code == 1 and no_trace and sent == 4 and longest[0] < 50_000
        and failures == [None] * 4 + ["instruction_too_long"]
    )  # fmt: skip


READERS = {
    "filter": ["filter", "{data}", "-o", "{dir}/f.jsonl"],
    "export": ["export", "{data}", "{dir}/e.json", "--format", "alpaca"],
    "score": ["score", "{data}", "-o", "{dir}/s.jsonl", "--scores", "complexity", "-q"],
    "select": ["select", "{data}", "-o", "{dir}/x.jsonl", "--budget", "1", "--by", "complexity"],
    "report": ["report", "{data}"],
    "stats": ["stats", "{data}"],
}


def bad_input(kind: str, command: str) -> Callable[[Path], bool]:
    words = {"fifo": "is a pipe", "loop": "symlink loop", "directory": "is a directory",
             "empty": "has no rows", "json-array": "JSON array"}[kind]  # fmt: skip

    def probe(folder: Path) -> bool:
        data = folder / "data.jsonl"
        if kind == "fifo":
            os.mkfifo(data)
        elif kind == "loop":
            data.symlink_to(folder / "other.jsonl")
            (folder / "other.jsonl").symlink_to(data)
        elif kind == "directory":
            data.mkdir()
        elif kind == "empty":
            data.write_text("")
        else:
            data.write_text(json.dumps([r for r in rows(evolkit_rows(folder, 2, "r.jsonl"))]))
        before = sorted(p.name for p in folder.iterdir())
        argv = [a.format(data=data, dir=folder) for a in READERS[command]]
        run = cli(argv, timeout=30)
        return run.one_line(2, words) and sorted(p.name for p in folder.iterdir()) == before

    return probe


def evolve_fifo(folder: Path) -> bool:
    """evolve given a pipe nobody writes to refuses within its wait, leaving nothing."""
    seeds = folder / "seeds"
    os.mkfifo(seeds)
    with fake(api_key=KEY) as server:
        run = cli(["evolve", seeds, "-o", folder / "o.jsonl", *model(server.url), "-q"], timeout=40)
        sent = server.snapshot().requests
    return run.one_line(2, "nothing was written") and sent == 0 and len(list(folder.iterdir())) == 1


def disk_full(command: str) -> Callable[[Path], bool]:
    def probe(folder: Path) -> bool:
        with fake(handler=lambda m: "Score: 4", api_key=KEY) as server:
            if command == "evolve":
                argv = ["evolve", seeds_file(folder, 4), "-o", folder / "o.jsonl", "-q",
                        *model(server.url)]  # fmt: skip
            else:
                argv = ["score", evolkit_rows(folder), "-o", folder / "s.jsonl", "--scores",
                        "quality", "--cache", "off", "-q", *model(server.url)]  # fmt: skip
            run = cli(argv, prelude=FULL_DISK)
        return run.one_line(2, "disk is full")

    return probe


def temperature_nan(folder: Path) -> bool:
    with fake(api_key=KEY) as server:
        run = cli(["evolve", seeds_file(folder, 2), "-o", folder / "o.jsonl", *model(server.url),
                   "--temperature", "nan", "-q"])  # fmt: skip
        sent = server.snapshot().requests
    return run.one_line(2, "temperature") and sent == 0


PROBES: dict[str, Callable[[Path], bool]] = {
    **{f"resume: seed answers a stopped run left failed ({t})": resume_unanswered(t)
       for t in ("lean", "litellm")},
    **{
        f"output is the input{' (symlink)' if link else ''}: {c}": output_is_input(c, link)
        for c in ("evolve", "export", "filter", "score", "select")
        for link in (False, True)
    },
    "cache keyed by --api-base: score": cache_api_base,
    **{f"seeds by content: {k}": seeds_by_content(k)
       for k in ("jsonl-in-txt", "json-array-no-extension", "process-substitution")},
    "score: one writer per file": score_lock,
    "score: a work directory per output": score_workdirs,
    "score: temp files of a killed run swept": score_temp_swept,
    "optimize: never a worse method": optimize_not_worse,
    **{f"key masked by value: {g}": secret_masked(g) for g in ("environment", "router config")},
    "filter: killed, run again, no call re-sent": filter_journal,
    "evolve: killed, run again, at most --concurrency re-sent": evolve_kill_repeats,
    "2 MB replies: dropped, not kept in the journal": big_reply_journal,
    "score: an instruction over the size limit never sent": score_long_instruction,
    "evolve: a pipe nobody writes to": evolve_fifo,
    **{f"{k}: {c}": bad_input(k, c)
       for k in ("fifo", "loop", "directory", "empty") for c in READERS},
    **{f"json-array: {c}": bad_input("json-array", c) for c in ("score", "select")},
    **{f"disk full in the journal: {c}": disk_full(c) for c in ("evolve", "score")},
    "--temperature nan": temperature_nan,
}  # fmt: skip

#: One probe per defect of the issue, the ones ``tests/failures/test_cli_defects.py`` runs
#: (the benchmark runs every probe: the symlink variants and every command x input kind too).
_VARIANTS = ("output is the input (symlink)", "loop:", "directory:", "fifo:")
PER_DEFECT: tuple[str, ...] = (
    *(name for name in PROBES if not name.startswith(_VARIANTS)),
    *("loop: score", "directory: stats", "fifo: filter", "fifo: export", "fifo: stats"),
)
