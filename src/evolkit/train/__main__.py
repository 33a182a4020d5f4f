"""``python -m evolkit.train`` and ``accelerate launch -m evolkit.train``: ``evolkit train``."""

from __future__ import annotations

import argparse
import sys

from evolkit.errors import EvolkitError
from evolkit.train._cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evolkit.train", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except EvolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
