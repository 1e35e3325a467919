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

The HTTP layer (``baton_shared.service.write_guard``) reads the header on every POST, PUT
and PATCH and leaves the request's key in the ASGI scope; the route puts it on the command
(``baton_shared.application.Command.key``), and the application layer derives the ids
from it. Reactions and schedulers never have one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from baton_shared import uuid_strings
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
        return uuid_strings.name_based(_NAMESPACE, f"{self.scope.hex()}:{purpose}")

    def event_id(self, n: int) -> str:
        """The id of the write's ``n``-th event (a UUIDv8: key hash, index, request hash)."""
        if not 0 <= n < 1 << _INDEX_BITS:
            raise ValueError(f"event index {n} out of range")
        prefix = int.from_bytes(self.scope[:6], "big")  # 48 bits
        request = int.from_bytes(self.request.fingerprint[:8], "big") >> 2  # 62 bits
        value = (prefix << 80) | (0x8 << 76) | (n << 64) | (0b10 << 62) | request
        return uuid_strings.of_int(value)

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
