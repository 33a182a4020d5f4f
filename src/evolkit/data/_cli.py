"""``evolkit export``: a data set as Alpaca JSON, chat or ShareGPT JSONL, evolkit JSONL, text,
or a Hugging Face data set directory (``--format hf``), optionally pushed to the Hub."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evolkit._arguments import Command
from evolkit.errors import ConfigError

__all__ = ["add_subcommand"]


class _IntermixedParser(argparse.ArgumentParser):
    """Takes TARGET after the options too (``export OUT --format hf DIR``), which plain
    argparse refuses once it has matched the first positional."""

    _inner = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def _arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``evolkit export``."""
    from evolkit.data.export import EXPORT_FORMATS

    p.add_argument("data", type=Path, help="a data set (.jsonl, .json, or text)")
    p.add_argument("target", type=Path, nargs="?", help="file (or directory for hf) to write")
    p.add_argument("-o", "--output", type=Path, default=None, help="the same as TARGET")
    p.add_argument("--format", choices=list(EXPORT_FORMATS), required=True)
    p.add_argument(
        "--require-response",
        action="store_true",
        help="leave out rows without a response (by default they are written and counted)",
    )
    p.add_argument("--license", default=None, help="licence for the card (default: the seeds')")
    p.add_argument("--push-to-hub", metavar="REPO", default=None, help="upload an hf export")
    p.add_argument("--private", action="store_true", help="create the Hub repository private")
    p.__class__ = _IntermixedParser


def _cmd_export(args: argparse.Namespace) -> int:
    from evolkit.data.export import export

    target = args.output or args.target
    if target is None:
        raise ConfigError("export needs where to write: TARGET or -o PATH")
    if args.push_to_hub and args.format != "hf":
        raise ConfigError("--push-to-hub uploads an hf export: add --format hf")
    result = export(
        args.data,
        target,
        args.format,
        require_response=args.require_response,
        license=args.license,
        warn=False,
    )
    message = result.message()
    if message:
        print(f"warning: {message}", file=sys.stderr)
    print(f"wrote {result.written} rows to {result.path} ({args.format})")
    if args.push_to_hub:
        from evolkit.data.hub import push_to_hub

        url = push_to_hub(result.path, args.push_to_hub, private=args.private)
        print(f"pushed {result.path} to {args.push_to_hub}: {url}")
    return 0


COMMAND = Command(
    "export",
    "convert a data set to Alpaca, chat, ShareGPT or a Hugging Face data set",
    "Write the data set DATA (a run's output, or any file evolkit reads) in FORMAT to "
    "TARGET. `--format hf` writes a directory with Parquet data and a data set card "
    "(README.md) built from the run's report; `--push-to-hub REPO` uploads it.",
    _arguments,
    _cmd_export,
)
add_subcommand = COMMAND.add_to
