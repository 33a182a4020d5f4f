"""A long run, stopped again and again, ends as if nothing had happened.

One ``evolkit evolve`` of 20,000 seeds and two rounds against the fake server in its own process,
10% of attempts faulted (every kind: 429 with Retry-After, 500, 503, stalls past the client's
timeout, dropped connections, bad JSON, no choices), on a machine kept busy by a CPU hog. The
same command is killed at random moments, by SIGKILL, SIGTERM and SIGINT in turn, and started
again each time, until it has been stopped ``--kills`` times; then it runs to the end. It prints:

- every stop: the signal, when, the calls journaled, the calls in flight on the server, how it
  ended (SIGTERM and SIGINT must end with status 130 and the one ``interrupted`` line, nothing
  else on stderr; SIGKILL cannot be caught);
- whether the final output equals, byte for byte, an uninterrupted run's over the same faults;
- the calls that a stopped run had sent and a later run sent again: at most the calls in
  flight when it stopped (``--concurrency``), since a call's slot is freed only once its answer
  is journaled.

Each attempt may fail at most twice (``max_faults_per_request``) and the client retries four
times, so every call ends answered and the two outputs can be compared.

    python benchmarks/soak.py                              # 20,000 seeds, 2 rounds, 21 stops
    python benchmarks/soak.py --seeds 1000 --kills 6       # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import _tests_dir  # noqa: F401  (tests/ on sys.path, for the fake server)

from evolkit.engine.interrupts import INTERRUPTED
from fakeserver import FakeServer, FaultPlan, ServerStats
from process_tools import LEAKS, cpu_hog, journaled

STOPS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
CLI = "import sys; from evolkit.cli import main; sys.exit(main())"


def evolve_command(seeds: Path, out: Path, url: str, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-c", CLI, "evolve", str(seeds), "-o", str(out),
        "--model", "openai-compatible/fake", "--api-base", url, "--rounds", str(args.rounds),
        "--concurrency", str(args.concurrency), "--retries", "4", "--timeout", str(args.timeout),
        "--seed", "1", "-q",
    ]  # fmt: skip


def run_to_end(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def unfaulted(stats: ServerStats) -> dict[str, int]:
    """Per request key, the attempts the server did not fault (answered, or cut off by the
    client)."""
    return {key: count - stats.faults_by_key.get(key, 0) for key, count in stats.attempts.items()}


def sent_in(before: ServerStats, after: ServerStats) -> dict[str, int]:
    """The requests sent unfaulted between two snapshots, with their unfaulted count at the
    second."""
    earlier, later = unfaulted(before), unfaulted(after)
    return {key: n for key, n in later.items() if n > earlier.get(key, 0)}


def sent_again(stopped: dict[str, int], end: ServerStats, clean: ServerStats) -> int:
    """Of the requests a stopped run sent, those sent unfaulted again by a later run, beyond
    what the uninterrupted run sent of them. The server knows a request by its messages only:
    two calls of one run can send the same messages (a parent evolved again in a later round by
    the same operator), and a late call's second try sends them twice, so the uninterrupted
    run's own count of each request is what a stop may not exceed."""
    final, reference = unfaulted(end), unfaulted(clean)
    return sum(
        1
        for key, n in stopped.items()
        if final.get(key, 0) > n and final.get(key, 0) > reference.get(key, 0)
    )


def repeated(stats: ServerStats) -> int:
    """Attempts beyond one per request that were not faulted: answered (or cut off) again."""
    return sum(
        max(0, count - stats.faults_by_key.get(key, 0) - 1) for key, count in stats.attempts.items()
    )


def wait_growth(proc: subprocess.Popen[str], out: Path, start: int) -> None:
    """Until the journal holds more than ``start`` calls (this run is making calls) or the run
    ends."""
    while journaled(out) <= start and proc.poll() is None:
        time.sleep(0.02)


def stop_once(
    command: list[str], out: Path, server: object, signum: int, moment: tuple[str, float]
) -> tuple[dict[str, object], dict[str, int]] | None:
    """Start the run and send ``signum`` at ``moment`` (during start-up, or that long after the
    run's first new journaled call); the stop's record and the requests the run sent, or None
    if the run finished first."""
    where, delay = moment
    before, journal_before = server.snapshot(), journaled(out)  # type: ignore[attr-defined]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if where == "calling":
        wait_growth(proc, out, journal_before)
    try:
        _, stderr = proc.communicate(timeout=delay)
        if proc.returncode != 0:
            sys.exit(f"the run failed ({proc.returncode}): {stderr.strip()[-500:]}")
        return None
    except subprocess.TimeoutExpired:
        pass
    in_flight = server.snapshot().in_flight  # type: ignore[attr-defined]
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=300)
    time.sleep(0.5)  # calls the stopped run had sent finish on the server's side
    after = server.snapshot()  # type: ignore[attr-defined]
    answered = after.ok - before.ok
    kept = journaled(out) - journal_before
    lines = [line for line in stderr.splitlines() if line.strip()]
    if proc.returncode == 0 and not any(leak in stderr for leak in LEAKS):
        return None  # the run had finished its work: a signal then changes nothing
    if signum == signal.SIGKILL:
        clean = proc.returncode == -signal.SIGKILL
    else:
        clean = proc.returncode == 130 and lines == [INTERRUPTED]
        clean = clean and not any(leak in stderr for leak in LEAKS)
    return {
        "signal": signal.Signals(signum).name, "moment": where, "after_s": round(delay, 2),
        "journaled": kept, "answered": answered, "in_flight_on_server": in_flight,
        "status": proc.returncode, "clean": clean, "stderr": "" if clean else stderr[-800:],
    }, sent_in(before, after)  # fmt: skip


def soak(  # type: ignore[no-untyped-def]
    command: list[str],
    out: Path,
    server: object,
    args: argparse.Namespace,
    span: float,
    clean: ServerStats,
):
    """Stop the run ``args.kills`` times at random moments, then let it finish."""
    rng = random.Random(args.rng)
    stops: list[dict[str, object]] = []
    sent: list[dict[str, int]] = []
    while len(stops) < args.kills:
        signum = STOPS[len(stops) % len(STOPS)]
        if len(stops) % 7 == 3:
            moment = ("start-up", rng.uniform(0.2, 3.0))
        else:
            moment = ("calling", rng.uniform(0.0, 1.6 * span / (args.kills + 1)))
        stopped = stop_once(command, out, server, signum, moment)
        if stopped is None:
            break
        stops.append(stopped[0])
        sent.append(stopped[1])
        print(json.dumps(stopped[0]), flush=True)
    last_s = run_to_end(command)
    end = server.snapshot()  # type: ignore[attr-defined]
    for stop, requests in zip(stops, sent, strict=True):
        stop["sent_again"] = sent_again(requests, end, clean)
    return stops, last_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=21)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--hogs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--rng", type=int, default=29)
    args = parser.parse_args()

    plan = FaultPlan.mixed(
        args.rate, retry_after=0.5, timeout_delay=args.timeout * 3, max_faults_per_request=2
    )
    with tempfile.TemporaryDirectory() as tmp, cpu_hog(args.hogs):
        folder = Path(tmp)
        seeds = folder / "seeds.jsonl"
        with seeds.open("w") as f:
            for i in range(args.seeds):
                f.write(json.dumps({"instruction": f"Describe method {i} for sorting a list."}))
                f.write("\n")
        fake = FakeServer(latency=args.latency, jitter=args.latency / 2, seed=7, faults=plan)
        with fake.run_in_process() as server:
            clean_out, out = folder / "clean.jsonl", folder / "soaked.jsonl"
            clean_s = run_to_end(evolve_command(seeds, clean_out, server.url, args))
            clean_stats = server.snapshot()
            server.reset_stats()
            print(
                f"uninterrupted: {clean_s:.0f} s, {clean_stats.requests} requests, "
                f"faults {dict(sorted(clean_stats.faults.items()))}",
                flush=True,
            )
            started = time.perf_counter()
            stops, last_s = soak(
                evolve_command(seeds, out, server.url, args),
                out,
                server,
                args,
                clean_s,
                clean_stats,
            )
            soak_s = time.perf_counter() - started
            soak_stats = server.snapshot()
        same = out.read_bytes() == clean_out.read_bytes()
        rows = sum(1 for _ in clean_out.open())
    report(args, stops, same, rows, clean_stats, soak_stats, soak_s, last_s)


def report(args, stops, same, rows, clean_stats, soak_stats, soak_s, last_s) -> None:  # type: ignore[no-untyped-def]
    by_signal = {s.name: sum(1 for x in stops if x["signal"] == s.name) for s in STOPS}
    extra = repeated(soak_stats) - repeated(clean_stats)
    again = [int(x["sent_again"]) for x in stops]
    unclean = [x for x in stops if not x["clean"]]
    print(
        f"seeds {args.seeds}, rounds {args.rounds}, faults {args.rate:.0%}, "
        f"concurrency {args.concurrency}, CPU hog of {args.hogs} processes"
    )
    print(
        f"stops: {len(stops)} ({', '.join(f'{k} {v}' for k, v in by_signal.items())}); "
        f"unclean endings: {len(unclean)}"
    )
    print(
        f"soaked run: {soak_s:.0f} s in all, the last resume {last_s:.0f} s; "
        f"{soak_stats.requests} requests, faults {dict(sorted(soak_stats.faults.items()))}"
    )
    print(f"output rows: {rows}; final output byte-identical to the uninterrupted run's: {same}")
    print(
        f"calls a stopped run sent that later runs sent again, beyond the uninterrupted run's own "
        f"count of each request: {sum(again)} in all, at most "
        f"{max(again, default=0)} after one stop (concurrency {args.concurrency}); per stop "
        f"{again}"
    )
    print(
        f"requests answered again: {repeated(soak_stats)} in the soaked run, "
        f"{repeated(clean_stats)} in the uninterrupted one; {extra} more"
    )
    if unclean or not same or len(stops) < args.kills or max(again, default=0) > args.concurrency:
        sys.exit(1)


if __name__ == "__main__":
    main()
