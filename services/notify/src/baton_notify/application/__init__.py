"""Command handling for webhooks: load the subscription, decide, append, retry on conflict."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from baton_shared.application import Clock, Written, answering, require_uuid, utc_now
from baton_shared.eventstore import ConcurrencyConflict, EventStore, NewEvent
from baton_shared.privacy import MasterKey

from baton_notify.domain import Webhook
from baton_notify.domain.signing import new_secret

Heads = Callable[[Sequence[str]], Awaitable[dict[str, int]]]  # stream name -> its last sequence


class WebhookApplication:
    def __init__(
        self,
        store: EventStore,
        master_key: MasterKey,
        heads: Heads,
        streams_of: Callable[[Sequence[str]], Sequence[str]],
        clock: Clock = utc_now,
        attempts: int = 5,
    ):
        self.store = store
        self.streams_of = streams_of  # event types -> the streams they are stored in
        self.master_key = master_key
        self.heads = heads
        self.clock = clock
        self.attempts = attempts

    def wrap(self, webhook_id: str, secret: str) -> str:
        return base64.b64encode(self.master_key.wrap(webhook_id, secret.encode())).decode()

    def unwrap(self, webhook_id: str, wrapped: str) -> str:
        return self.master_key.unwrap(webhook_id, base64.b64decode(wrapped)).decode()

    async def load(self, webhook_id: str) -> Webhook:
        return Webhook.from_history(webhook_id, await self.store.load("webhook", webhook_id))

    async def _update(self, webhook_id: str, decide: Callable[[Webhook], object], actor: str, cause: str | None) -> Written:
        ids = {"webhook_id": webhook_id}
        for attempt in range(self.attempts):
            webhook = await self.load(webhook_id)
            decide(webhook)
            if not webhook.pending:
                return Written(ids, self.store.stream_name, webhook.version, 0)
            new = [NewEvent(e, correlation_id=webhook_id, actor=actor, causation_id=cause) for e in webhook.pending]
            try:
                with answering(ids):
                    result = await self.store.append("webhook", webhook_id, webhook.version, new)
            except ConcurrencyConflict:
                if attempt == self.attempts - 1:
                    raise
                continue
            return Written(ids, self.store.stream_name, result.last_seq, len(new))
        raise AssertionError("unreachable")

    async def subscribe(
        self,
        *,
        url: str,
        event_types: Sequence[str],
        streams: Sequence[str],
        client_id: str | None,
        department: str | None,
        actor: str,
        cause: str | None = None,
    ) -> tuple[Written, str]:
        """A new subscription from the log's current end (what is stored from now on), and its secret."""
        webhook_id = str(uuid.uuid4())
        secret = new_secret()
        start = await self.heads(streams)
        written = await self._update(
            webhook_id,
            lambda w: w.subscribe(
                url=url,
                event_types=event_types,
                client_id=client_id,
                department=department,
                owner=actor,
                wrapped_secret=self.wrap(webhook_id, secret),
                start_positions=start,
            ),
            actor,
            cause,
        )
        return written, secret

    async def rotate_secret(self, webhook_id: str, actor: str, cause: str | None = None) -> tuple[Written, str]:
        require_uuid(webhook_id, "webhook")
        secret = new_secret()
        written = await self._update(webhook_id, lambda w: w.rotate_secret(self.wrap(webhook_id, secret)), actor, cause)
        return written, secret

    async def pause(self, webhook_id: str, actor: str, cause: str | None = None, *, reason: str = "paused by a caller",
                    parked_event_id: str | None = None, last_error: str | None = None) -> Written:
        require_uuid(webhook_id, "webhook")
        return await self._update(webhook_id, lambda w: w.pause(reason, parked_event_id, last_error), actor, cause)

    async def resume(self, webhook_id: str, actor: str, cause: str | None = None) -> Written:
        require_uuid(webhook_id, "webhook")
        return await self._update(webhook_id, lambda w: w.resume(), actor, cause)

    async def replay(
        self, webhook_id: str, positions: dict[str, int], since: datetime | None, actor: str, cause: str | None = None
    ) -> Written:
        require_uuid(webhook_id, "webhook")
        return await self._update(
            webhook_id, lambda w: w.replay(positions, since, list(self.streams_of(w.event_types))), actor, cause
        )

    async def delete(self, webhook_id: str, actor: str, cause: str | None = None) -> Written:
        require_uuid(webhook_id, "webhook")
        return await self._update(webhook_id, lambda w: w.delete(), actor, cause)
