"""A service's own events about clients, in log order: its lane of a client's journey.

Each service keeps the events of its own stream that name a client (every payload
carries ``client_id``), so the console can draw a client's journey, or one journey by
correlation id, from the three services' HTTP APIs instead of reading the log
(``baton_shared.service.events_api`` serves it). Intake's client timeline is the same
read for intake. Payloads are kept as stored: only intake's carry personal data, sealed.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, DateTime, Index, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections.base import Projection
from baton_shared.projections.sql import insert_new, json_row


class OwnEventsProjection(Projection):
    name = "own_events"

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = Table(
            f"own_events{suffix}",
            metadata,
            Column("seq", BigInteger, primary_key=True),
            Column("stream", String(64), nullable=False),
            Column("client_id", String(64), nullable=False),
            Column("event_id", String(64), nullable=False),
            Column("event_type", String(100), nullable=False),
            Column("aggregate_type", String(50), nullable=False),
            Column("aggregate_id", String(64), nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("actor", String(200), nullable=False),
            Column("correlation_id", String(64), nullable=False),
            Column("causation_id", String(64)),
            Column("payload", JSON, nullable=False),
            Index(f"ix_own_events{suffix}_client", "client_id", "occurred_at", "seq"),
            Index(f"ix_own_events{suffix}_correlation", "correlation_id", "occurred_at", "seq"),
        )

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        rows = []
        for recorded in events:
            env = recorded.envelope
            client_id = env.payload.get("client_id")
            if not isinstance(client_id, str):
                continue  # not about a client: in no client's journey
            rows.append(
                {
                    "seq": recorded.seq,
                    "stream": recorded.stream,
                    "client_id": client_id,
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
        insert_new(conn, self.table, rows, ["seq"])

    def touches(self, events: list[RecordedEvent]) -> bool:
        return any(isinstance(e.envelope.payload.get("client_id"), str) for e in events)


async def read_events(
    engine: AsyncEngine,
    table: Table,
    *,
    client_id: str | None = None,
    correlation_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """A page of the events of one client or one correlation id, in time order."""
    where = table.c.client_id == client_id if client_id is not None else table.c.correlation_id == correlation_id
    async with engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(table).where(where))
        rows = await conn.execute(
            select(table)
            .where(where)
            .order_by(table.c.occurred_at, table.c.stream, table.c.seq)
            .limit(limit)
            .offset(offset)
        )
        return [json_row(r) for r in rows.mappings()], int(total or 0)
