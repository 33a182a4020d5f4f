"""``evolkit view OUT``: read, filter, diff and label a run's rows in a local web page.

- :class:`ViewServer` / :func:`running_view`: the page and its JSON API over one run's files
  (aiohttp, bound to 127.0.0.1 unless told otherwise).
- :class:`RowIndex`: every kept and dropped row of a run, paged and filtered on the server.
- :class:`LabelStore`: the user's labels, appended to ``OUT.labels.jsonl``.
- :func:`as_run` / :func:`agreement`: precision and recall of the eliminator against the labels.

The page is plain HTML, CSS and JavaScript shipped in the package (``static/``): no build step.
Nothing here is imported until it is used, so every command line that lists ``evolkit view``
among its subcommands starts without the web server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolkit._lazy import lazy_exports

if TYPE_CHECKING:
    from evolkit.view._agreement import (
        Agreement,
        Disagreement,
        agreement,
        as_run,
        disagreements,
    )
    from evolkit.view._index import RowIndex, RowQuery, ViewRow, drop_id
    from evolkit.view._labels import Label, LabelStore, labels_path, read_labels
    from evolkit.view._server import ViewServer, make_app, running_view

__all__ = [
    "Agreement",
    "Disagreement",
    "Label",
    "LabelStore",
    "RowIndex",
    "RowQuery",
    "ViewRow",
    "ViewServer",
    "agreement",
    "as_run",
    "disagreements",
    "drop_id",
    "labels_path",
    "make_app",
    "read_labels",
    "running_view",
]

_WHERE = {
    **dict.fromkeys(
        ("Agreement", "Disagreement", "agreement", "as_run", "disagreements"),
        "evolkit.view._agreement",
    ),
    **dict.fromkeys(("RowIndex", "RowQuery", "ViewRow", "drop_id"), "evolkit.view._index"),
    **dict.fromkeys(("Label", "LabelStore", "labels_path", "read_labels"), "evolkit.view._labels"),
    **dict.fromkeys(("ViewServer", "make_app", "running_view"), "evolkit.view._server"),
}

__getattr__ = lazy_exports(__name__, _WHERE)
