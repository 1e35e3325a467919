"""Where each webhook's deliveries stand: per source stream, the last position the receiver
acknowledged (written after each 2xx), the failure being retried, and parked deliveries."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

cursors = Table(
    "webhook_cursors",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),  # the last sequence acknowledged (or skipped)
    Column("replay_seq", BigInteger, nullable=False),  # the subscribe/replay event the position started from
    Column("delivered", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),  # of the delivery failing now (0: none failing)
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

parked = Table(
    "webhook_parked",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("stream", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)
