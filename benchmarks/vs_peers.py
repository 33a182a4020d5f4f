"""evolkit against peers: the same Evol-Instruct job, the same fake server, side by side.

    python benchmarks/vs_peers.py                          # 64 seeds, 2 rounds, 0.1 s latency
    python benchmarks/vs_peers.py --seeds 128 --rounds 3 --concurrency 64
    python benchmarks/vs_peers.py --distilabel-python none # skip distilabel

One fake OpenAI-compatible server runs in its own process (``FakeServer(...).run_in_process()``)
and answers every request after ``--latency`` seconds. Every system evolves the same generated
seed instructions for the same number of rounds and answers what it evolves:

1. evolkit, ``evolkit.evolve`` through ``LiteLLMBackend("openai/fake", ...)``, default operators
   and filters, responses on, ``--concurrency`` calls in flight, output to a temporary directory,
   no response cache. With its defaults it also answers the seeds and runs a judge call per
   evolution (the information-gain filter), so it makes more calls than the others; a second
   evolkit row ("same calls") turns off the seed answers and the filters, so that it makes exactly
   the calls the others make.
2. A plain sequential loop, the way a straightforward Evol-Instruct script is written: for each
   round, for each instruction, one blocking call to rewrite it and one to answer the rewrite,
   with the synchronous ``openai`` client.
3. distilabel's ``EvolInstruct(num_evolutions=rounds, store_evolutions=True,
   generate_answers=True)`` task with its ``OpenAILLM``, run standalone (``task.load()`` then
   ``task.process(batch)``) on batches of ``--distilabel-batch`` seeds (default: the
   concurrency, as a pipeline with that ``input_batch_size`` would), in a child process with the
   Python of a separate virtual environment (``--distilabel-python``, default
   ``/work/distilabel-venv/bin/python``). Measured with distilabel 1.5.3 (``pip install
   "distilabel[openai]==1.5.3" requests``; it pulled openai 3.57.0 and no torch).

Wall time excludes imports and client construction for all three (each is warmed up first).
The systems take turns, ``--repeat`` times (the sequential loop, whose time is its latency, runs
once), and the fastest run of each is reported, which evens out other load on the machine.
Calls are counted by the server (``/_fake/stats``), so the figures per call are comparable even
where the systems make different numbers of calls per instruction.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DEFAULT_DISTILABEL_PYTHON = "/tmp/distilabel-venv/bin/python"
DEFAULT_CURATOR_PYTHON = "/tmp/curator-venv/bin/python"

TOPICS = [
    "sorting a list of numbers",
    "the water cycle",
    "compound interest",
    "writing a cover letter",
    "photosynthesis",
    "binary search",
    "planning a garden",
    "the causes of inflation",
]
FORMS = [
    "Explain {t} to a ten-year-old.",
    "Write three tips about {t}.",
    "Give a short example that shows {t}.",
    "List common mistakes people make with {t}.",
    "Summarise {t} in two sentences.",
    "Describe how {t} works, step by step.",
    "Compare two ways of approaching {t}.",
    "Ask a quiz question about {t} and answer it.",
]


def make_seeds(n: int) -> list[str]:
    """``n`` distinct seed instructions, generated (no data set needed)."""
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        form = FORMS[(i // len(TOPICS)) % len(FORMS)]
        text = form.format(t=topic)
        if i >= len(TOPICS) * len(FORMS):
            text += f" (variant {i})"
        out.append(text)
    return out


# -- 1. evolkit ----------------------------------------------------------------------------------


def run_evolkit(
    url: str, seeds: list[str], rounds: int, concurrency: int, same_calls: bool, lean: bool
) -> dict[str, Any]:
    import evolkit
    from evolkit._protocols import Backend
    from evolkit.backends.litellm import LiteLLMBackend
    from evolkit.backends.openai_compat import OpenAICompatBackend

    params = {"api_base": url, "api_key": "x"}
    backend: Backend = (
        OpenAICompatBackend("openai-compatible/fake", params)
        if lean
        else LiteLLMBackend("openai/fake", params)
    )
    extra: dict[str, Any] = {"respond_seeds": False, "filters": []} if same_calls else {}
    with tempfile.TemporaryDirectory(prefix="vs-peers-") as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        evolkit.evolve(
            seeds,
            rounds=rounds,
            backend=backend,
            output=Path(tmp) / "out.jsonl",
            concurrency=concurrency,
            respond=True,
            cache=None,
            **extra,
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        with (Path(tmp) / "out.jsonl").open() as fh:
            rows = sum(1 for line in fh if line.strip())
    return {"wall": wall, "cpu": cpu, "rows": rows, "evolved": rows - len(seeds)}


def warm_litellm(url: str) -> None:
    from evolkit.backends._litellm_import import import_litellm

    with warnings.catch_warnings():  # a pydantic notice about openai's own types
        warnings.simplefilter("ignore", UserWarning)
        litellm = import_litellm()
        litellm.completion(
            model="openai/fake",
            api_base=url,
            api_key="x",
            messages=[{"role": "user", "content": "Warm up."}],
            num_retries=0,
        )


# -- 2. a plain sequential loop ------------------------------------------------------------------

REWRITE_PROMPT = (
    "Make the task below more demanding: add one constraint or one extra step that a careful "
    "reader can check, keep it answerable, and keep it to a few sentences.\n\n"
    "<instruction>{instruction}</instruction>\n\n"
    "Reply with the new task only, between <rewrite> and </rewrite>."
)


def run_sequential(url: str, seeds: list[str], rounds: int) -> dict[str, Any]:
    with warnings.catch_warnings():  # a pydantic notice about openai's own types
        warnings.simplefilter("ignore", UserWarning)
        from openai import OpenAI

    client = OpenAI(base_url=url, api_key="x", max_retries=0)

    def ask(prompt: str, max_tokens: int) -> str:
        reply = client.chat.completions.create(
            model="fake",
            messages=[{"role": "user", "content": prompt}],
            temperature=0.7,
            max_tokens=max_tokens,
        )
        return reply.choices[0].message.content or ""

    ask("Warm up.", 8)
    rows: list[tuple[str, str]] = []
    pool = list(seeds)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for i, instruction in enumerate(pool):
            reply = ask(REWRITE_PROMPT.format(instruction=instruction), 512)
            rewrite = reply.split("<rewrite>")[-1].split("</rewrite>")[0].strip() or instruction
            rows.append((rewrite, ask(rewrite, 1024)))
            pool[i] = rewrite
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.close()
    n = len(rows)
    return {"wall": wall, "cpu": cpu, "rows": len(seeds) + n, "evolved": n, "warmup": 1}


# -- 3. distilabel (child process, its own virtual environment) ----------------------------------


def distilabel_worker(url: str, seeds_path: str, rounds: int, batch: int) -> None:
    """Runs under the distilabel venv's Python and imports nothing from evolkit.

    Loads the task, warms the client up, prints ``ready``; then each ``run`` line on stdin runs
    the whole job once and prints its figures as one JSON line. Stops at the end of its input.
    """
    import logging

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import distilabel

    try:
        from distilabel.models import OpenAILLM
    except ImportError:  # distilabel < 1.5
        from distilabel.llms import OpenAILLM
    from distilabel.steps.tasks import EvolInstruct

    seeds = json.loads(Path(seeds_path).read_text())
    llm = OpenAILLM(
        model="fake",
        base_url=url,
        api_key="x",
        max_retries=0,
        generation_kwargs={"temperature": 0.7, "max_new_tokens": 512},
    )
    task = EvolInstruct(
        llm=llm, num_evolutions=rounds, store_evolutions=True, generate_answers=True
    )
    task.load()
    llm.generate([[{"role": "user", "content": "Warm up."}]], max_new_tokens=8)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        rows: list[dict[str, Any]] = []
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(seeds), batch):
            for out in task.process([{"instruction": s} for s in seeds[i : i + batch]]):
                rows.extend(out)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        evolved = sum(len(r["evolved_instructions"]) for r in rows)
        figures = {
            "wall": wall,
            "cpu": cpu,
            "rows": len(seeds) + evolved,
            "evolved": evolved,
            "answers": sum(len(r.get("answers") or []) for r in rows),
            "version": distilabel.__version__,
        }
        print(json.dumps(figures), flush=True)
    task.unload()


class Peer:
    """A peer's worker process (its own virtual environment's Python, this file run with
    ``worker_flag``): started and warmed up once, then run on request."""

    def __init__(
        self,
        name: str,
        worker_flag: str,
        python: str,
        url: str,
        seeds: list[str],
        rounds: int,
        size: int,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix="vs-peers-")
        seeds_path = Path(self._tmp.name) / "seeds.json"
        seeds_path.write_text(json.dumps(seeds))
        cmd = [python, os.path.abspath(__file__), worker_flag, url]
        cmd += [str(seeds_path), str(rounds), str(size)]
        start = time.perf_counter()
        # run from the temporary directory, so nothing on the path shadows the peer's modules
        self.proc = subprocess.Popen(
            cmd,
            cwd=self._tmp.name,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        if self._read() != "ready":
            self.close()
            raise RuntimeError(f"the {name} worker did not start (its error is above)")
        self.startup = time.perf_counter() - start

    def _read(self) -> str:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line or line.strip() == "ready" or line.startswith("{"):
                return line.strip()

    def run(self) -> dict[str, Any]:
        """One run of the whole job; the worker's figures."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        line = self._read()
        if not line.startswith("{"):
            raise RuntimeError(f"the {self.name} worker failed (its error is above)")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        """End the worker (end of input) and wait for it."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._tmp.cleanup()


def curator_env(python: str, scratch: str) -> dict[str, str]:
    """Offline settings for Curator: tiktoken's encodings from the copy that litellm (a Curator
    dependency) ships, no response cache, no telemetry, no live display."""
    site = subprocess.run(
        [python, "-c", "import litellm, os; print(os.path.dirname(litellm.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    ).stdout.strip()
    return {
        "TIKTOKEN_CACHE_DIR": os.path.join(site, "litellm_core_utils", "tokenizers"),
        "CURATOR_DISABLE_CACHE": "1",
        "CURATOR_CACHE_DIR": scratch,
        "HF_DATASETS_CACHE": scratch,
        "TELEMETRY_ENABLED": "false",
        "CURATOR_DISABLE_RICH_DISPLAY": "1",
        "TQDM_DISABLE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "BESPOKE_CURATOR_TRACKER_DISABLED": "1",
    }


# -- 4. Bespoke Curator (child process, its own virtual environment) -----------------------------


def curator_worker(url: str, seeds_path: str, rounds: int, concurrency: int) -> None:
    """Runs under the Curator venv's Python and imports nothing from evolkit.

    Each round is two ``curator.LLM`` passes over the pool (Curator's unit of work is a whole
    data set): rewrite every instruction, then answer every rewrite, with at most
    ``concurrency`` requests in flight, no rate limit and no response cache. Same protocol as
    :func:`distilabel_worker`.
    """
    import logging

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    from importlib.metadata import version

    from bespokelabs import curator

    class Rewrite(curator.LLM):  # type: ignore[misc]
        def prompt(self, row: dict[str, Any]) -> str:
            return REWRITE_PROMPT.format(instruction=row["instruction"])

        def parse(self, row: dict[str, Any], response: str) -> dict[str, Any]:
            rewrite = response.split("<rewrite>")[-1].split("</rewrite>")[0].strip()
            return {"instruction": rewrite or row["instruction"]}

    class Answer(curator.LLM):  # type: ignore[misc]
        def prompt(self, row: dict[str, Any]) -> str:
            return str(row["instruction"])

        def parse(self, row: dict[str, Any], response: str) -> dict[str, Any]:
            return {"instruction": row["instruction"], "output": response}

    backend_params = {
        "base_url": url,
        "api_key": "x",
        "max_retries": 0,
        "require_all_responses": False,
        "max_concurrent_requests": concurrency,
        "max_requests_per_minute": 10_000_000,
        "max_tokens_per_minute": 10_000_000_000,
    }

    def llm(kind: Any, max_tokens: int) -> Any:
        return kind(
            model_name="fake",
            backend="openai",
            backend_params=backend_params,
            generation_params={"temperature": 0.7, "max_tokens": max_tokens},
        )

    rewrite, answer = llm(Rewrite, 512), llm(Answer, 1024)
    seeds = json.loads(Path(seeds_path).read_text())
    answer([{"instruction": "Warm up."}])
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start, cpu = time.perf_counter(), time.process_time()
        pool = [{"instruction": s} for s in seeds]
        evolved = 0
        for _ in range(rounds):
            pool = [{"instruction": r["instruction"]} for r in rewrite(pool).dataset]
            evolved += len(answer(pool).dataset)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        figures = {
            "wall": wall,
            "cpu": cpu,
            "rows": len(seeds) + evolved,
            "evolved": evolved,
            "version": version("bespokelabs-curator"),
        }
        print(json.dumps(figures), flush=True)


# -- driver --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--distilabel-python",
        default=os.environ.get("DISTILABEL_PYTHON", DEFAULT_DISTILABEL_PYTHON),
        help="Python of a virtual environment with distilabel installed ('none' skips it)",
    )
    parser.add_argument("--distilabel-batch", type=int, default=None)
    parser.add_argument(
        "--curator-python",
        default=os.environ.get("CURATOR_PYTHON", DEFAULT_CURATOR_PYTHON),
        help="Python of a virtual environment with bespokelabs-curator ('none' skips it)",
    )
    parser.add_argument(
        "--no-sequential", action="store_true", help="skip the (slow) sequential loop"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="turns of evolkit and distilabel runs; the fastest of each is kept",
    )
    args = parser.parse_args()

    import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

    from fakeserver import FakeServer

    seeds = make_seeds(args.seeds)
    batch = args.distilabel_batch or args.concurrency
    print(
        f"{len(seeds)} seeds, {args.rounds} rounds, fake server latency "
        f"{args.latency * 1000:.0f} ms, evolkit concurrency {args.concurrency}, "
        f"distilabel batch {batch}, fastest of {args.repeat} runs, {os.cpu_count()} cores",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {}
    startups: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(FakeServer(latency=args.latency).run_in_process())
        warm_litellm(server.url)
        job = (server.url, seeds, args.rounds, args.concurrency)
        jobs: dict[str, Callable[[], dict[str, Any]]] = {
            "evolkit": functools.partial(run_evolkit, *job, False, False),
            "evolkit, same calls": functools.partial(run_evolkit, *job, True, False),
            "evolkit lean": functools.partial(run_evolkit, *job, False, True),
            "evolkit lean, same calls": functools.partial(run_evolkit, *job, True, True),
        }
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="vs-peers-cache-"))
        peers = [
            ("distilabel", "--distilabel-worker", args.distilabel_python, batch, None),
            ("curator", "--curator-worker", args.curator_python, args.concurrency, scratch),
        ]
        for name, flag, python, size, cache in peers:
            if python.lower() == "none":
                continue
            if not Path(python).exists():
                print(f"{name}: skipped, {python} does not exist")
                continue
            try:
                env = curator_env(python, cache) if cache is not None else None
                worker = Peer(name, flag, python, server.url, seeds, args.rounds, size, env)
            except Exception as exc:  # report it and carry on with the others
                print(f"{name}: FAILED to start: {exc}", flush=True)
            else:
                stack.callback(worker.close)
                jobs[name] = worker.run
                startups[name] = worker.startup

        def measure(name: str, job: Callable[[], dict[str, Any]]) -> None:
            server.reset_stats()
            try:
                out = job()
            except Exception as exc:  # report it and carry on with the others
                print(f"  {name}: FAILED: {exc}", flush=True)
                return
            stats = server.snapshot()
            warmup = int(out.pop("warmup", 0))  # warm-up calls made after the reset
            out.update(
                calls=stats.requests - warmup,
                ok=stats.ok - warmup,
                max_in_flight=stats.max_in_flight,
            )
            runs.setdefault(name, []).append(out)
            print(f"  {name}: {out['wall']:.2f} s, {out['calls']} calls", flush=True)

        if not args.no_sequential:
            measure("sequential loop", functools.partial(run_sequential, *job[:3]))
        for _ in range(args.repeat):
            for name, fn in jobs.items():
                measure(name, fn)
    order = [*jobs, "sequential loop"]
    report({name: runs[name] for name in order if name in runs}, len(seeds), args.rounds)
    for name, seconds in startups.items():
        if name in runs:
            version = runs[name][0]["version"]
            print(f"{name} {version}: its worker took {seconds:.1f} s to start, import and load")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def report(runs: dict[str, list[dict[str, Any]]], n_seeds: int, rounds: int) -> None:
    """The table (the fastest run of each), and each peer against both evolkit rows."""
    results = {name: min(rs, key=lambda r: r["wall"]) for name, rs in runs.items()}
    print()
    print(
        f"{'system':<20} {'wall s':>7} {'calls':>6} {'calls/instr/round':>17} "
        f"{'max in flight':>13} {'calls/s':>8} {'CPU ms/call':>11}  all runs (s)"
    )
    for name, r in results.items():
        per = r["calls"] / (n_seeds * rounds)
        walls = " ".join(f"{x['wall']:.2f}" for x in runs[name])
        print(
            f"{name:<20} {r['wall']:>7.2f} {r['calls']:>6} {per:>17.2f} "
            f"{r['max_in_flight']:>13} {r['calls'] / r['wall']:>8.1f} "
            f"{r['cpu'] / r['calls'] * 1000:>11.2f}  {walls}"
        )
    print()
    for base_name in ("evolkit", "evolkit, same calls", "evolkit lean", "evolkit lean, same calls"):
        base = results.get(base_name)
        if base is None:
            continue
        for name, r in results.items():
            if name.startswith("evolkit"):
                continue
            per_call = (r["wall"] / r["calls"]) / (base["wall"] / base["calls"])
            print(
                f"{name} / {base_name}: wall {r['wall'] / base['wall']:.2f}x, "
                f"wall per call {per_call:.2f}x"
            )
    rows = ", ".join(f"{name} {r['rows']}" for name, r in results.items())
    print(f"rows out (seeds + evolved): {rows}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--distilabel-worker":
        url, seeds_path, rounds, batch = sys.argv[2:6]
        distilabel_worker(url, seeds_path, int(rounds), int(batch))
    elif len(sys.argv) > 1 and sys.argv[1] == "--curator-worker":
        url, seeds_path, rounds, concurrency = sys.argv[2:6]
        curator_worker(url, seeds_path, int(rounds), int(concurrency))
    else:
        main()
