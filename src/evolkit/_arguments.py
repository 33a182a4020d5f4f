"""What every subcommand of the command line shares: how it is declared (:class:`Command`)
and the argument types, which name the problem in one line when a value is out of range."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from attrs import frozen

__all__ = ["Command", "flag_values", "fraction", "key_value", "non_negative_int", "positive_int"]


@frozen
class Command:
    """One ``evolkit`` subcommand: its name, its one-line help, the description its ``--help``
    prints (none, or a function when it names something known only when the parser is built),
    the function that adds its arguments, and the function that runs it (which returns the
    exit code)."""

    name: str
    help: str
    description: str | Callable[[], str] | None
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def add_to(self, subparsers: Any) -> argparse.ArgumentParser:
        """Add this command to the ``evolkit`` parser's subparsers."""
        description = self.description() if callable(self.description) else self.description
        parser: argparse.ArgumentParser = subparsers.add_parser(
            self.name, help=self.help, description=description
        )
        self.arguments(parser)
        parser.set_defaults(func=self.run)
        return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def flag_values(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The parsed values of the flags ``names``, keyed by the name of the setting each one
    fills: the one place a command hands its options on as they were given."""
    return {name: getattr(args, name) for name in names}
