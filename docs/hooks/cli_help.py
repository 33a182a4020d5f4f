"""MkDocs hooks: ``<!-- evolkit-help: CMD -->`` becomes the ``--help`` text of ``evolkit CMD``.

The CLI reference is built from the same argparse parser the command uses, so it cannot drift.
A subcommand whose optional dependency is missing gets a note naming the extra instead.
"""

from __future__ import annotations

import os
import re
from typing import Any

_MARKER = re.compile(r"<!--\s*evolkit-help:\s*([\w-]*)\s*-->")


def _help(command: str) -> str:
    os.environ["COLUMNS"] = "80"
    import evolkit.cli
    from evolkit.cli import build_parser

    if hasattr(evolkit.cli, "_default_model_text"):
        # the help names the default model and whether it is installed on this machine; the
        # docs describe the rule instead
        evolkit.cli._default_model_text = lambda: "$EVOLKIT_MODEL, else the embedded local model"
    parser = build_parser()
    if not command:
        return parser.format_help()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices: Any = getattr(action, "choices", None)
        if choices and command in choices:
            text: str = choices[command].format_help()
            return text
    return f"(evolkit {command} is not available here: install the extra that provides it)\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return _MARKER.sub(lambda m: "```text\n" + _help(m.group(1)).rstrip() + "\n```", markdown)


_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):(?=<code>|<a )")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Drop the Sphinx roles (``:class:``, ``:func:`` …) the docstrings use around names."""
    return _ROLE.sub("", html)
