"""One signed POST of one event to one webhook, with bounded time and a bounded answer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import orjson

from baton_shared.events.envelope import RecordedEvent

from baton_notify.domain.addresses import AddressRefused, resolve_allowed
from baton_notify.domain.signing import headers


def body_of(recorded: RecordedEvent) -> bytes:
    """What the receiver gets: the envelope and the payload as stored. Personal data travels only
    sealed (intake seals contacts; a forgotten client's key is gone, so nothing opens)."""
    e = recorded.envelope
    return orjson.dumps(
        {
            "id": e.event_id,
            "type": e.event_type,
            "schema_version": e.schema_version,
            "stream": recorded.stream,
            "position": recorded.seq,
            "occurred_at": e.occurred_at.isoformat(),
            "aggregate_type": e.aggregate_type,
            "aggregate_id": e.aggregate_id,
            "correlation_id": e.correlation_id,
            "data": e.payload,
        }
    )


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


class WebhookSender:
    def __init__(self, timeout_s: float, max_response_bytes: int, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.max_response_bytes = max_response_bytes
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, limits=httpx.Limits(max_connections=200)
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, url: str, secret: str, recorded: RecordedEvent) -> Outcome:
        body = body_of(recorded)
        try:
            await resolve_allowed(url, self.allow_private)  # again at send time: DNS may have changed
        except AddressRefused as exc:
            return Outcome(False, f"refused: {exc}")
        signed = headers(secret, recorded.envelope.event_id, int(time.time()), body)
        try:
            async with self.client.stream("POST", url, content=body, headers=signed) as answer:
                read = 0
                async for chunk in answer.aiter_bytes():
                    read += len(chunk)
                    if read >= self.max_response_bytes:
                        break  # the answer's body says nothing we need: read little of it
                if 200 <= answer.status_code < 300:
                    return Outcome(True)
                return Outcome(False, f"HTTP {answer.status_code}")
        except httpx.HTTPError as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}"[:500])
