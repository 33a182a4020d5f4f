"""``evolkit view OUT``: serve the view of a run until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evolkit._arguments import Command

__all__ = ["add_subcommand", "run"]


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit view``."""
    p.add_argument("output", type=Path, help="the data set a run wrote (its -o path)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; another exposes the rows and labels to "
        "whoever reaches it)",
    )
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument(
        "--labels", type=Path, default=None, help="labels file (default: OUT.labels.jsonl)"
    )
    p.add_argument("--no-browser", action="store_true", help="print the address only")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; print the address (and open it unless --no-browser)."""
    from evolkit.engine._loop import run_sync
    from evolkit.errors import ConfigError
    from evolkit.view._server import ViewServer

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: give 0 to 65535 (0 picks a free one)")
    server = ViewServer(args.output, host=args.host, port=args.port, labels=args.labels)

    def started(url: str) -> None:
        print(f"evolkit view of {args.output} at {url}", flush=True)
        print(f"labels go to {server.labels}; stop with Ctrl-C", flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        run_sync(server.serve_forever(started))
    except KeyboardInterrupt:
        print(f"stopped; labels are in {server.labels}", file=sys.stderr)
        return 0
    return 0


COMMAND = Command(
    "view",
    "read, filter, diff and label a run's rows in a local web page",
    "Serve a page over OUT, OUT.run.json and OUT.evolkit/ (kept and dropped rows, "
    "lineage with word diffs, verdicts, scores, answers) on 127.0.0.1 and open it in "
    "the browser. Labels typed there (k keep, d drop, n note) are appended to "
    "OUT.labels.jsonl; 'evolkit filter OUT --labels OUT.labels.jsonl' measures the "
    "eliminator against them. Stop with Ctrl-C.",
    _arguments,
    run,
)
add_subcommand = COMMAND.add_to
