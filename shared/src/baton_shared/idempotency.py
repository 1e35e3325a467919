"""Idempotency keys: a write retried with the same key is recognised in the event log.

A client that timed out does not know whether its write happened. It sends the
write again with the same ``Idempotency-Key`` header, and Baton answers what it
answered the first time (same ids, same position) and appends nothing.

Nothing is remembered in memory or in a table: the key shapes the ids.

- ids the write creates (a new client, request, note, handoff, program...) are
  ``uuid5`` of (service, actor, key, purpose), so the retry names the same things;
- the events it appends get a UUIDv8 id: 48 bits of a hash of (service, actor,
  key), 12 bits of the event's index in the write, 62 bits of a hash of the
  request (method, path, canonical JSON body).

Before deciding, the application looks for events of that key on the aggregate
it writes to (the history it loads anyway). Found with the same request hash:
a replay, answered from them. Found with another hash: the key was used for a
different request, 422. Not found: a first attempt, decided and appended as
usual; two concurrent first attempts append the same event ids with the same
expected version, so the loser's append is recognised by the store's
lost-acknowledgement check (or, if something else appended meanwhile, decided
again and found). It holds across restarts and replicas because it lives in the
log, and it has no time window (JetStream's ``Nats-Msg-Id`` duplicate window
only catches retries within two minutes).

A write sent without a key gets one made by the server (a random UUID, marked
``generated``): its ids are derived from it the same way, so when its append is
never confirmed (``AppendUnconfirmed``), the 503 can give the caller the key and
the ids, and a retry carrying that key stores nothing twice. A generated key is
new, so nothing of it can be in the log yet: the application does not look for
it (no extra read), it only derives ids from it.

The HTTP layer (``WriteGuard``) reads the header on every POST, PUT and PATCH and
leaves the request's key in the ASGI scope; the route puts it on the command
(``baton_shared.application.Command.key``), and the application layer derives the
ids from it. Reactions and schedulers never have one.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from baton_shared.domain.errors import DomainRuleViolation
from baton_shared.events.envelope import RecordedEvent

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[!-~]{1,200}$"  # printable ASCII, no spaces; a UUID is the usual choice
_NAMESPACE = uuid.UUID("0b7e51d2-6a0c-5c39-8f5e-2f4be8a1c9d3")
_INDEX_BITS = 12  # up to 4,096 events in one write (a write appends at most 1,000)


class IdempotencyKeyReused(DomainRuleViolation):
    """The key was already used for a different request (answered 422)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request (another body or endpoint); "
            "nothing was appended. Send a new key for a new request, or the original request to get its answer."
        )


@dataclass
class RequestKey:
    """What the HTTP layer knows of a keyed write: the key and the request's hash."""

    key: str
    fingerprint: bytes
    on_replay: Callable[[], None] | None = field(default=None, repr=False)
    generated: bool = False  # made by the server for a write sent without a key


SCOPE_KEY = "baton.request_key"  # where the write guard leaves the request's key in the ASGI scope


def request_key(scope: dict) -> RequestKey | None:
    """The key of the write a request is (sent or generated); None for a read or a DELETE."""
    return scope.get(SCOPE_KEY)


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """The request's hash: method, path and the JSON body with its keys sorted (so
    whitespace and key order do not count; an empty body counts as ``null``)."""
    try:
        canonical = orjson.dumps(orjson.loads(body) if body.strip() else None, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(b"\0".join((method.upper().encode(), path.encode(), canonical))).digest()


@dataclass(frozen=True)
class Replayed:
    """The events a keyed write appended the first time."""

    events: tuple[RecordedEvent, ...]

    @property
    def first_seq(self) -> int:
        return self.events[0].seq

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq

    @property
    def count(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class Keyed:
    """A request key bound to the service and the actor: derives ids, recognises its events."""

    request: RequestKey
    scope: bytes  # sha256 of service, actor, key

    @property
    def sent_by_caller(self) -> bool:
        """Whether the caller sent the key: only then can the write be a retry, to be looked for."""
        return not self.request.generated

    def id(self, purpose: str) -> str:
        """A deterministic id for something the write creates (``client``, ``handoff:0``...)."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.scope.hex()}:{purpose}"))

    def event_id(self, n: int) -> str:
        """The id of the write's ``n``-th event (a UUIDv8: key hash, index, request hash)."""
        if not 0 <= n < 1 << _INDEX_BITS:
            raise ValueError(f"event index {n} out of range")
        prefix = int.from_bytes(self.scope[:6], "big")  # 48 bits
        request = int.from_bytes(self.request.fingerprint[:8], "big") >> 2  # 62 bits
        value = (prefix << 80) | (0x8 << 76) | (n << 64) | (0b10 << 62) | request
        return str(uuid.UUID(int=value))

    def _matches_key(self, event_id: str) -> uuid.UUID | None:
        try:
            parsed = uuid.UUID(event_id)
        except ValueError:
            return None
        if parsed.version != 8 or parsed.int >> 80 != int.from_bytes(self.scope[:6], "big"):
            return None
        return parsed

    def replay(self, events: list[RecordedEvent]) -> Replayed | None:
        """This key's events in an aggregate's history: None if there are none (a first
        attempt); the events if the request is the same; ``IdempotencyKeyReused`` if not."""
        mine = []
        for event in events:
            parsed = self._matches_key(event.envelope.event_id)
            if parsed is None:
                continue
            if str(parsed) != self.event_id((parsed.int >> 64) & ((1 << _INDEX_BITS) - 1)):
                raise IdempotencyKeyReused(self.request.key)
            mine.append(event)
        if not mine:
            return None
        if self.request.on_replay is not None:
            self.request.on_replay()
        return Replayed(tuple(mine))

    def event_ids(self) -> Callable[[int], str]:
        return self.event_id


def bind(request: RequestKey, service: str, actor: str) -> Keyed:
    """A request key bound to a service and an actor: what derives a command's ids (an
    auditor can rebuild the ids a write must have appended from it)."""
    scope = hashlib.sha256(b"\0".join((service.encode(), actor.encode(), request.key.encode()))).digest()
    return Keyed(request, scope)


# --- HTTP: body limit, the key, the request's hash ------------------------------------------

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
_KEY = re.compile(KEY_PATTERN)


def _problem(status: int, detail: str, **members) -> tuple[dict, list[tuple[bytes, bytes]], bytes]:
    from baton_shared.service import problems

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
            await self._answer(send, 422, "the path or the query contains a NUL character (%00), which no id or value may hold",
                               errors=[{"loc": [where], "msg": "contains a NUL character", "type": "nul_character"}])
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
                        send, 413, f"request body of {declared} bytes is over the limit of {limit} bytes; nothing was done"
                    )
                    return
            elif name == b"idempotency-key":
                key = value.decode("latin-1")
        if key is not None and not _KEY.fullmatch(key):
            await self._answer(
                send, 422, "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces (a UUID, say)",
                errors=[{"loc": ["header", HEADER], "msg": "must be 1 to 200 printable ASCII characters without spaces",
                         "type": "string_pattern_mismatch"}],
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
                await self._answer(send, 422, f"{where} contains a NUL character (\\u0000), which no text may hold",
                                   errors=[{"loc": _loc(where), "msg": "contains a NUL character", "type": "nul_character"}])
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
            scope = {**scope, SCOPE_KEY: RequestKey(str(uuid.uuid4()), request_hash, generated=True)}
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

        scope = {**scope, SCOPE_KEY: RequestKey(key, request_hash, mark)}
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
    from baton_shared.service import problems

    app.add_middleware(WriteGuard, max_body_bytes=max_body_bytes)

    @app.exception_handler(IdempotencyKeyReused)
    async def key_reused(_request, exc: IdempotencyKeyReused):
        return problems.problem(422, str(exc), "idempotency-key-reused", errors=[
            {"loc": ["header", HEADER], "msg": "already used for a different request", "type": "idempotency_key_reused"}])

    _document_header(app)
