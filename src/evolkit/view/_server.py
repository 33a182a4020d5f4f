"""The view's web server: the page, its static files and a small JSON API, on aiohttp.

``GET /api/rows`` pages the table on the server (``offset``, ``limit`` and the filters of
:class:`RowQuery`), so the browser never holds more than one page of a large run;
``GET /api/row/{id}`` is one row's page; ``GET /api/summary`` the counts and the agreement
with the labels; ``POST /api/labels`` appends a label. Every answer is JSON and the page writes
it with ``textContent`` only; a strict Content-Security-Policy forbids inline scripts as well.
Bound to 127.0.0.1, the server also refuses a request whose ``Host`` is not a loopback name
(a page on another site cannot reach it by rebinding its own name to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from evolkit.errors import ConfigError
from evolkit.view._agreement import as_run, run_disagreements, unknown_ids
from evolkit.view._index import RowIndex, RowQuery
from evolkit.view._labels import Label, LabelStore, labels_path

__all__ = ["ViewServer", "make_app", "running_view"]

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_PAGE = 500
_STATIC = {"view.js": "text/javascript", "view.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

INDEX: web.AppKey[RowIndex] = web.AppKey("index", RowIndex)
LABELS: web.AppKey[LabelStore] = web.AppKey("labels", LabelStore)
LOOPBACK_ONLY: web.AppKey[bool] = web.AppKey("loopback_only", bool)


def _asset(name: str) -> bytes:
    return importlib.resources.files("evolkit.view").joinpath("static").joinpath(name).read_bytes()


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    try:
        return min(max(int(raw), low), high)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number") from None


def _float(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None


def query_from(request: web.Request) -> RowQuery:
    """The table's filters from the query string (an empty value is no filter)."""
    q = request.query
    kept = {"kept": True, "dropped": False}.get(q.get("kept", ""))
    return RowQuery(
        round=_int(request, "round", -1, -1, 1_000_000) if q.get("round") else None,
        operator=q.get("operator") or None,
        kept=kept,
        reason=q.get("reason") or None,
        rule=q.get("rule") or None,
        q=q.get("q") or None,
        score=q.get("score") or None,
        score_min=_float(request, "score_min"),
        score_max=_float(request, "score_max"),
    )


def _label_json(label: Label | None) -> dict[str, Any] | None:
    return label.to_record() if label is not None else None


async def rows(request: web.Request) -> web.Response:
    index, store = request.app[INDEX], request.app[LABELS]
    store.refresh()
    offset = _int(request, "offset", 0, 0, len(index))
    limit = _int(request, "limit", 50, 1, MAX_PAGE)
    total, page = index.query(query_from(request), offset, limit)
    body = [{**row.brief(), "label": _label_json(store.get(row.id))} for row in page]
    return web.json_response({"total": total, "offset": offset, "rows": body})


async def row(request: web.Request) -> web.Response:
    index, store = request.app[INDEX], request.app[LABELS]
    store.refresh()
    filters_used = index.settings.get("filters_used") or []
    detail = index.detail(request.match_info["id"], [str(f) for f in filters_used])
    if detail is None:
        raise web.HTTPNotFound(text="no row has this id in this run")
    for step in detail["lineage"]:
        step["label"] = _label_json(store.get(step["id"]))
    detail["label"] = _label_json(store.get(detail["id"]))
    return web.json_response(detail)


async def summary(request: web.Request) -> web.Response:
    index, store = request.app[INDEX], request.app[LABELS]
    store.refresh()
    labels = store.all()
    counted = {id: label for id, label in labels.items() if label.label is not None}
    return web.json_response(
        {
            "output": str(index.output),
            "labels_file": str(store.path),
            **index.facets(),
            "labelled": len(counted),
            "labelled_drop": sum(label.label == "drop" for label in counted.values()),
            "agreement": [a.to_json() for a in as_run(index, labels)],
            "disagreements": [d.to_json() for d in run_disagreements(index, labels)[:200]],
            "unknown_labels": len(unknown_ids(index, labels)),
        }
    )


async def add_label(request: web.Request) -> web.Response:
    index, store = request.app[INDEX], request.app[LABELS]
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the label as application/json")
    try:
        body = await request.json()
        label = Label(id=body["id"], label=body.get("label"), note=body.get("note") or "")
    except (ValueError, KeyError, TypeError) as exc:
        raise web.HTTPBadRequest(text=f"not a label: {exc}") from None
    if label.id not in index.by_id and index.loaded:
        raise web.HTTPNotFound(text="no row has this id in this run")
    saved = await asyncio.to_thread(store.append, label)
    return web.json_response(saved.to_record())


async def page(request: web.Request) -> web.Response:
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8")


async def no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=_STATIC[name], charset="utf-8")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loopback names only (when bound to loopback), same-origin writes, strict headers."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if request.app[LOOPBACK_ONLY] and host not in LOOPBACK:
        raise web.HTTPForbidden(text="this server answers only to 127.0.0.1 or localhost")
    origin = request.headers.get("Origin")
    if (
        request.method != "GET"
        and origin is not None
        and origin.split("://", 1)[-1] != request.host
    ):
        raise web.HTTPForbidden(text="labels are written only by the view's own page")
    response = await handler(request)
    response.headers.update(_HEADERS)
    return response


def make_app(index: RowIndex, store: LabelStore, *, loopback_only: bool = True) -> web.Application:
    """The view's aiohttp application over ``index``, writing labels to ``store``."""
    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    app[INDEX], app[LABELS], app[LOOPBACK_ONLY] = index, store, loopback_only
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/rows", rows)
    app.router.add_get("/api/row/{id}", row)
    app.router.add_get("/api/summary", summary)
    app.router.add_post("/api/labels", add_label)
    return app


class ViewServer:
    """``evolkit view`` over one run: start it, read :attr:`url`, stop it."""

    def __init__(
        self,
        output: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        labels: str | os.PathLike[str] | None = None,
    ) -> None:
        self.output = Path(output)
        self.host, self.port = host, port
        self.labels = Path(labels) if labels is not None else labels_path(self.output)
        self.index = RowIndex.open(self.output)
        self.store = LabelStore(self.labels)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen; return the page's address (with the port the system chose for ``port=0``)."""
        app = make_app(self.index, self.store, loopback_only=self.host in LOOPBACK)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "pass another --port (0 picks a free one) or an address of this machine to --host"
            ) from None
        addresses = self._runner.addresses
        port = int(addresses[0][1]) if addresses else self.port
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def serve_forever(self, on_start: Callable[[str], None] | None = None) -> None:
        """Start, call ``on_start`` with the address, and serve until cancelled."""
        url = await self.start()
        try:
            if on_start is not None:
                on_start(url)
            await asyncio.Event().wait()
        finally:
            await self.stop()


@contextlib.contextmanager
def running_view(
    output: str | os.PathLike[str], *, whole: bool = True, **options: Any
) -> Iterator[ViewServer]:
    """A :class:`ViewServer` serving from a thread of its own while the block runs.

    With ``whole`` (the default) the block starts once the whole run has been read.
    """
    server = ViewServer(output, **options)
    while whole and not server.index.loaded:
        time.sleep(0.005)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            failure.append(exc)
            return
        finally:
            started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="evolkit-view", daemon=True)
    thread.start()
    started.wait()
    if failure:
        loop.close()
        raise failure[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
