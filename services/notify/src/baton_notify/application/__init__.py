"""Command handling for webhooks, through the shared command loop (``baton_shared.application``)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence

from baton_shared.application import Aggregates, Clock, Written, utc_now
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import EventStore
from baton_shared.privacy import MasterKey

from baton_notify.application import commands as c
from baton_notify.domain import Webhook
from baton_notify.domain.signing import new_secret

Heads = Callable[[Sequence[str]], Awaitable[dict[str, int]]]  # stream name -> its last sequence
StreamsOf = Callable[[Sequence[str]], Sequence[str]]  # event types -> the streams they are stored in


class WebhookApplication:
    def __init__(
        self,
        store: EventStore,
        master_key: MasterKey,
        heads: Heads,
        streams_of: StreamsOf,
        clock: Clock = utc_now,
        attempts: int = 5,
    ):
        self.store = store
        self.aggregates = Aggregates(store, attempts)
        self.master_key = master_key
        self.heads = heads
        self.streams_of = streams_of
        self.clock = clock

    def wrap(self, webhook_id: str, secret: str) -> str:
        return base64.b64encode(self.master_key.wrap(webhook_id, secret.encode())).decode()

    def unwrap(self, webhook_id: str, wrapped: str) -> str:
        return self.master_key.unwrap(webhook_id, base64.b64decode(wrapped)).decode()

    async def subscribe(self, cmd: c.SubscribeWebhook) -> tuple[Written, str]:
        """A new subscription from the log's current end (what is stored from now on), and its
        secret. A retry with the same key answers the same webhook and secret."""
        webhook_id = self.aggregates.new_id(cmd, "webhook")
        secret = new_secret()
        start = await self.heads(list(self.streams_of(cmd.event_types)))

        def build() -> Webhook:
            webhook = Webhook(webhook_id)
            webhook.subscribe(
                url=cmd.url,
                event_types=cmd.event_types,
                client_id=cmd.client_id,
                department=cmd.department,
                owner=cmd.actor,
                wrapped_secret=self.wrap(webhook_id, secret),
                start_positions=start,
            )
            return webhook

        written = await self.aggregates.create(Webhook, webhook_id, cmd, build)
        if written.replayed:  # a retry: the secret is the stored one
            secret = self.unwrap(webhook_id, (await self.aggregates.get(Webhook, webhook_id)).wrapped_secret)
        return written, secret

    async def rotate_secret(self, cmd: c.RotateWebhookSecret) -> tuple[Written, str]:
        secret = new_secret()
        written = await self.aggregates.update(
            Webhook, cmd.webhook_id, cmd, lambda w: w.rotate_secret(self.wrap(cmd.webhook_id, secret))
        )
        if written.replayed:  # a keyed retry: the secret is the stored one
            secret = self.unwrap(cmd.webhook_id, (await self.aggregates.get(Webhook, cmd.webhook_id)).wrapped_secret)
        return written, secret

    async def pause(self, cmd: c.PauseWebhook) -> Written:
        event_ids = None
        if cmd.parked_event_id is not None:  # notify's own pause: once per parking of that delivery
            event_ids = lambda w, n: derived_event_id(cmd.parked_event_id, f"parked-after-{w.version}-{n}")  # noqa: E731
        return await self.aggregates.update(
            Webhook,
            cmd.webhook_id,
            cmd,
            lambda w: w.pause(cmd.reason, cmd.parked_event_id, cmd.last_error),
            event_ids=event_ids,
        )

    async def resume(self, cmd: c.ResumeWebhook) -> Written:
        return await self.aggregates.update(Webhook, cmd.webhook_id, cmd, lambda w: w.resume())

    async def replay(self, cmd: c.ReplayWebhook) -> Written:
        return await self.aggregates.update(
            Webhook,
            cmd.webhook_id,
            cmd,
            lambda w: w.replay(cmd.positions, cmd.since, list(self.streams_of(w.event_types))),
        )

    async def delete(self, cmd: c.DeleteWebhook) -> Written:
        return await self.aggregates.update(Webhook, cmd.webhook_id, cmd, lambda w: w.delete())
