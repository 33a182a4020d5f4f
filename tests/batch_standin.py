"""A stand-in for OpenAI's files and batches endpoints, on loopback, for batch-mode tests.

It is the fake chat server (``/v1/chat/completions`` answers as usual) plus ``POST /v1/files``
(multipart upload), ``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches``
and ``GET /v1/batches/{id}``. A batch's requests are answered with the same replies as the
chat endpoint. A batch stays ``in_progress`` for ``polls_to_finish`` polls; ``hold=True``
keeps every batch in progress until :meth:`release`. With ``expire_every=2`` the first batch
that holds a request expires every second request (counted within the batch) instead of
answering it; an expired request is answered when it comes again.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from aiohttp import web

from evolkit.testing import default_reply
from fakeserver import FakeServer
from fakeserver._wire import completion_body, error_body, truncate, words

_JSON = "application/json"


class BatchStandIn(FakeServer):
    def __init__(
        self, *, polls_to_finish: int = 1, hold: bool = False, expire_every: int = 0, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.polls_to_finish = polls_to_finish
        self.hold = hold
        self.expire_every = expire_every
        self.refuse_batches = False  # answer POST /v1/batches with a 400
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_keys: dict[str, list[str]] = {}  # batch id -> custom_ids, in creation order
        self.expired: list[str] = []
        self.polls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._answered_once: set[str] = set()

    def release(self) -> None:
        self.hold = False

    def created(self) -> list[list[str]]:
        """The custom ids of each batch created so far."""
        with self._lock:
            return [list(keys) for keys in self.batch_keys.values()]

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path.removeprefix("/v1")
        parts = [p for p in path.split("/") if p]
        try:
            if parts == ["files"] and request.method == "POST":
                return await self._upload(request)
            if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
                return web.Response(body=self.files[parts[1]], content_type="application/jsonl")
            if parts == ["batches"] and request.method == "POST":
                if self.refuse_batches:
                    body = error_body("batches are switched off", "invalid_request_error")
                    return web.Response(status=400, body=body, content_type=_JSON)
                return self._create(json.loads(await request.read()))
            if parts == ["batches"] and request.method == "GET":
                data = list(self.batches.values())[::-1]
                return _json({"object": "list", "data": data, "has_more": False})
            if len(parts) == 2 and parts[0] == "batches" and request.method == "GET":
                return self._poll(parts[1])
        except KeyError as exc:
            return web.Response(
                status=404,
                body=error_body(f"no such object {exc}", "invalid_request_error"),
                content_type=_JSON,
            )
        return await super()._dispatch(request)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    async def _upload(self, request: web.BaseRequest) -> web.StreamResponse:
        form = await request.post()
        field = form["file"]
        assert isinstance(field, web.FileField), "the upload must be a file part"
        content = field.file.read()
        file_id = self._new_id("file")
        self.files[file_id] = content
        return _json(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": "batch.jsonl",
                "purpose": "batch",
                "status": "processed",
            }
        )

    def _create(self, body: dict[str, Any]) -> web.StreamResponse:
        file_id = body["input_file_id"]
        lines = [json.loads(x) for x in self.files[file_id].decode().splitlines() if x.strip()]
        batch_id = self._new_id("batch")
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": file_id,
            "completion_window": body["completion_window"],
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "metadata": body.get("metadata") or {},
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        with self._lock:
            self.batches[batch_id] = batch
            self.batch_keys[batch_id] = [line["custom_id"] for line in lines]
        return _json(batch)

    def _poll(self, batch_id: str) -> web.StreamResponse:
        batch = self.batches[batch_id]
        if batch["status"] == "in_progress" and not self.hold:
            self.polls[batch_id] = self.polls.get(batch_id, 0) + 1
            if self.polls[batch_id] >= self.polls_to_finish:
                self._finish(batch)
        return _json(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        lines = [
            json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x
        ]
        out, errors = [], []
        for index, line in enumerate(lines):
            key = line["custom_id"]
            first = key not in self._answered_once
            if self.expire_every and first and index % self.expire_every == 1:
                self._answered_once.add(key)
                self.expired.append(key)
                errors.append(
                    {
                        "id": f"req-{key}",
                        "custom_id": key,
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "not answered within the completion window",
                        },
                    }
                )
                continue
            self._answered_once.add(key)
            out.append(
                {
                    "id": f"req-{key}",
                    "custom_id": key,
                    "error": None,
                    "response": {
                        "status_code": 200,
                        "request_id": key,
                        "body": self._answer_body(line["body"], key),
                    },
                }
            )
        batch["output_file_id"] = self._store_lines(out)
        batch["error_file_id"] = self._store_lines(errors) if errors else None
        batch["status"] = "expired" if errors else "completed"
        batch["request_counts"] = {
            "total": len(lines),
            "completed": len(out),
            "failed": len(errors),
        }

    def _store_lines(self, rows: list[dict[str, Any]]) -> str:
        file_id = self._new_id("file")
        self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
        return file_id

    def _answer_body(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        messages = body["messages"]
        text, finish = truncate(default_reply(messages), body.get("max_tokens"))
        return completion_body(
            request_id=f"chatcmpl-batch-{key}",
            model=str(body["model"]),
            text=text,
            finish_reason=finish,
            prompt_tokens=sum(words(m["content"]) for m in messages),
        )


def _json(data: Any) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), content_type=_JSON)
