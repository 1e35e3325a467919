"""Client timeline: every event about a client, in log order, with what caused it.

Payloads are kept as stored: contacts stay sealed (the views open them when shown).
``ClientForgotten`` also drops the sealed contacts from the client's earlier rows, so
even the ciphertext is gone from this read model once the client is forgotten.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, DateTime, Index, JSON, MetaData, String, Table, select, update

from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import Projection
from baton_shared.projections.sql import insert_new


class TimelineProjection(Projection):
    name = "timeline"

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.timeline = Table(
            f"client_timeline{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("stream", String(64), primary_key=True),
            Column("seq", BigInteger, primary_key=True),
            Column("event_id", String(64), nullable=False),
            Column("event_type", String(100), nullable=False),
            Column("aggregate_type", String(50), nullable=False),
            Column("aggregate_id", String(64), nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("actor", String(200), nullable=False),
            Column("correlation_id", String(64), nullable=False),
            Column("causation_id", String(64)),
            Column("payload", JSON, nullable=False),
            Index(f"ix_client_timeline{suffix}_order", "client_id", "occurred_at", "seq"),
            Index(f"ix_client_timeline{suffix}_correlation", "correlation_id", "occurred_at", "seq"),
        )

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        rows = []
        for recorded in events:
            env = recorded.envelope
            client_id = env.payload.get("client_id")
            if not isinstance(client_id, str):
                continue  # not about a client (or an unknown shape): nothing to show
            rows.append(
                {
                    "client_id": client_id,
                    "stream": recorded.stream,
                    "seq": recorded.seq,
                    "event_id": env.event_id,
                    "event_type": env.event_type,
                    "aggregate_type": env.aggregate_type,
                    "aggregate_id": env.aggregate_id,
                    "occurred_at": env.occurred_at,
                    "actor": env.actor,
                    "correlation_id": env.correlation_id,
                    "causation_id": env.causation_id,
                    "payload": env.payload,
                }
            )
        # Insert-only: an event already on the timeline stays as it is.
        insert_new(conn, self.timeline, rows, ["client_id", "stream", "seq"])
        forgotten = {
            r.envelope.payload["client_id"]
            for r in events
            if r.envelope.event_type == "ClientForgotten" and isinstance(r.envelope.payload.get("client_id"), str)
        }
        for client_id in sorted(forgotten):
            self._erase(conn, client_id)

    def _erase(self, conn: Connection, client_id: str) -> None:
        t = self.timeline
        found = conn.execute(
            select(t.c.stream, t.c.seq, t.c.payload).where(
                t.c.client_id == client_id, t.c.event_type == "ClientRegistered"
            )
        )
        for stream, seq, payload in found.all():
            if payload.get("contacts_erased"):
                continue
            erased = {k: v for k, v in payload.items() if k not in ("sealed_contacts", "contacts", "legacy_contacts")}
            erased["contacts_erased"] = True
            conn.execute(
                update(t).where(t.c.client_id == client_id, t.c.stream == stream, t.c.seq == seq).values(payload=erased)
            )
