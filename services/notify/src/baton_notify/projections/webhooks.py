"""The webhook subscriptions as their events left them (notify's own stream)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, MetaData, String, Table, Text

from baton_shared.contracts import notify as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class WebhooksProjection(RowPerAggregate):
    name = "webhooks"
    aggregate_type = "webhook"
    key = "webhook_id"
    created_by = ev.WebhookSubscribed

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.webhooks = Table(
            f"webhooks{suffix}",
            metadata,
            Column("webhook_id", String(64), primary_key=True),
            Column("url", Text, nullable=False),
            Column("event_types", JSON, nullable=False),
            Column("client_id", String(64), nullable=True),
            Column("department", String(64), nullable=True),
            Column("owner", String(200), nullable=False),
            Column("status", String(20), nullable=False),
            Column("wrapped_secret", Text, nullable=False),
            # Where deliveries start (stream -> last position not sent), and which replay set it.
            Column("start_positions", JSON, nullable=False),
            Column("replay_seq", BigInteger, nullable=False),
            Column("replay_since", DateTime(timezone=True), nullable=True),
            Column("paused_reason", Text, nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_webhooks{suffix}_owner", "owner"),
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        if isinstance(e, ev.WebhookSubscribed):
            return {
                "webhook_id": e.webhook_id,
                "url": e.url,
                "event_types": list(e.event_types),
                "client_id": e.client_id,
                "department": e.department,
                "owner": e.owner,
                "status": "active",
                "wrapped_secret": e.wrapped_secret,
                "start_positions": dict(e.start_positions),
                "replay_seq": recorded.seq,
                "replay_since": None,
                "paused_reason": None,
                "created_at": recorded.envelope.occurred_at,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, version=recorded.seq)
        if isinstance(e, ev.WebhookSecretRotated):
            row["wrapped_secret"] = e.wrapped_secret
        elif isinstance(e, ev.WebhookPaused):
            row.update(status="paused", paused_reason=e.reason)
        elif isinstance(e, ev.WebhookResumed):
            row.update(status="active", paused_reason=None)
        elif isinstance(e, ev.WebhookReplayed):
            row.update(start_positions=dict(e.positions), replay_seq=recorded.seq, replay_since=e.since)
        elif isinstance(e, ev.WebhookDeleted):
            row["status"] = "deleted"
        return row
