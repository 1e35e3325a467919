"""The write guard: the ASGI middleware in front of every request (body limit, NUL
characters, the ``Idempotency-Key`` header and the request's hash; see
``baton_shared.idempotency`` for what the key does)."""

from __future__ import annotations

import re

import orjson

from baton_shared import uuid_strings
from baton_shared.idempotency import (
    HEADER,
    KEY_PATTERN,
    IdempotencyKeyReused,
    RequestKey,
    fingerprint,
    SCOPE_KEY,
)
from baton_shared.service import problems

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
_KEY = re.compile(KEY_PATTERN)


def _problem(status: int, detail: str, **members) -> tuple[dict, list[tuple[bytes, bytes]], bytes]:
    body = problems.encoded(status, detail, **members)
    headers = [(b"content-type", problems.MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}, headers, body


def _loc(where: str) -> list[str | int]:
    """``body.contacts[0].email`` as ``["body", "contacts", 0, "email"]``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", where.rstrip("]")) if p != ""]


def _nul_in(value, where: str = "body") -> str | None:  # noqa: ANN001
    """Where a NUL character hides in a parsed JSON value (PostgreSQL text cannot hold one)."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _nul_in(k, where) or _nul_in(v, f"{where}.{k}")
            if found:
                return found
    if isinstance(value, list):
        for n, v in enumerate(value):
            found = _nul_in(v, f"{where}[{n}]")
            if found:
                return found
    return None


class WriteGuard:
    """Pure ASGI middleware in front of every request:

    - a NUL character in the path or the query, or in a string of a write's JSON body,
      is 422 (stored in an event it would stop the PostgreSQL projections; in a query it
      failed the read with a 500);

    and in front of every write (POST, PUT, PATCH):

    - reads the body, at most ``max_body_bytes`` (Content-Length or not, chunked too):
      over that, 413 and the app never sees the request, so nothing is appended;
    - takes ``Idempotency-Key`` (printable ASCII, 1-200 characters; 422 if malformed),
      or makes one when none is sent, hashes the request and leaves the ``RequestKey`` in
      the scope (``request_key``) for the route to put on its command; a replayed answer carries ``Idempotent-Replayed: true``."""

    def __init__(self, app, max_body_bytes: int) -> None:  # noqa: ANN001
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def _answer(self, send, status: int, detail: str, **members) -> None:
        start, _headers, body = _problem(status, detail, **members)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            where = "path" if "\x00" in scope["path"] else "query"
            await self._answer(
                send,
                422,
                "the path or the query contains a NUL character (%00), which no id or value may hold",
                errors=[{"loc": [where], "msg": "contains a NUL character", "type": "nul_character"}],
            )
            return
        if scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        key: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._answer(
                        send,
                        413,
                        f"request body of {declared} bytes is over the limit of {limit} bytes; nothing was done",
                    )
                    return
            elif name == b"idempotency-key":
                key = value.decode("latin-1")
        if key is not None and not _KEY.fullmatch(key):
            await self._answer(
                send,
                422,
                "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces (a UUID, say)",
                errors=[
                    {
                        "loc": ["header", HEADER],
                        "msg": "must be 1 to 200 printable ASCII characters without spaces",
                        "type": "string_pattern_mismatch",
                    }
                ],
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._answer(send, 413, f"request body is over the limit of {limit} bytes; nothing was done")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u0000" in body:
            try:
                where = _nul_in(orjson.loads(body))
            except orjson.JSONDecodeError:
                where = None  # not JSON: the app answers that
            if where:
                await self._answer(
                    send,
                    422,
                    f"{where} contains a NUL character (\\u0000), which no text may hold",
                    errors=[{"loc": _loc(where), "msg": "contains a NUL character", "type": "nul_character"}],
                )
                return
        delivered = False

        async def replay_receive():  # noqa: ANN202
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        request_hash = fingerprint(scope["method"], scope["path"], body)
        if key is None:  # a key of our own: ids to name if the append goes unconfirmed
            # Put in the request's own scope (not a copy): the route the router names there is
            # what the request log and the metrics label by.
            scope[SCOPE_KEY] = RequestKey(uuid_strings.random_uuid(), request_hash, generated=True)
            await self.app(scope, replay_receive, send)
            return
        replayed = False

        def mark() -> None:
            nonlocal replayed
            replayed = True

        async def send_marked(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start" and replayed:
                message["headers"] = [*message.get("headers", ()), (b"idempotent-replayed", b"true")]
            await send(message)

        scope[SCOPE_KEY] = RequestKey(key, request_hash, mark)
        await self.app(scope, replay_receive, send_marked)


def _document_header(app) -> None:  # noqa: ANN001
    """Add the ``Idempotency-Key`` header and the 413 answer to every write in the OpenAPI document."""
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method.upper() not in WRITE_METHODS or not path.startswith("/v1"):
                    continue
                operation.setdefault("parameters", []).append(
                    {
                        "name": HEADER,
                        "in": "header",
                        "required": False,
                        "description": "Retry safely: the same key with the same request answers the first "
                        "answer again and appends nothing; with another request, 422. A 503 whose outcome is "
                        "unknown gives the key to retry with (the one sent, or one the server made).",
                        "schema": {"type": "string", "pattern": KEY_PATTERN, "minLength": 1, "maxLength": 200},
                    }
                )
                operation.setdefault("responses", {}).setdefault("413", {"description": "Request body too large"})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def install(app, max_body_bytes: int) -> None:  # noqa: ANN001
    """Wire the write guard, the 422 for a reused key and the documentation into a service app.
    Call before the correlation middleware is added, so that one stays outermost."""
    app.add_middleware(WriteGuard, max_body_bytes=max_body_bytes)

    @app.exception_handler(IdempotencyKeyReused)
    async def key_reused(_request, exc: IdempotencyKeyReused):
        return problems.problem(
            422,
            str(exc),
            "idempotency-key-reused",
            errors=[
                {
                    "loc": ["header", HEADER],
                    "msg": "already used for a different request",
                    "type": "idempotency_key_reused",
                }
            ],
        )

    _document_header(app)
