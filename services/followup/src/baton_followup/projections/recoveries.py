"""Recoveries read model: one row per recovery (an unhappy client caught before any offer)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Integer, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class RecoveriesProjection(RowPerAggregate):
    name = "recoveries"
    aggregate_type = "client"
    key = "recovery_id"
    created_by = ev.RecoveryOpened

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.recoveries = Table(
            f"recoveries{suffix}",
            metadata,
            Column("recovery_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("status", String(16), nullable=False),
            Column("cause", String(32), nullable=False),
            Column("reason", Text, nullable=False),
            Column("feedback", Text, nullable=False),
            Column("score", Integer),
            Column("request_id", String(64)),
            Column("due_on", Date, nullable=False),
            Column("opened_at", DateTime(timezone=True), nullable=False),
            Column("actions_taken", Text),
            Column("client_answer", Text),
            Column("closed_at", DateTime(timezone=True)),
            Column("closed_by", String(200)),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_recoveries{suffix}_client", "client_id", "status"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "recovery_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, (ev.RecoveryOpened, ev.RecoveryClosed))

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        if isinstance(e, ev.RecoveryOpened):
            return {
                "recovery_id": e.recovery_id,
                "client_id": e.client_id,
                "status": "open",
                "cause": e.cause,
                "reason": e.reason,
                "feedback": e.feedback,
                "score": e.score,
                "request_id": e.request_id,
                "due_on": e.due_on,
                "opened_at": e.opened_at,
                "actions_taken": None,
                "client_answer": None,
                "closed_at": None,
                "closed_by": None,
                "version": recorded.seq,
            }
        if row is None:
            return None
        return dict(
            row,
            status="closed",
            actions_taken=e.actions_taken,
            client_answer=e.client_answer,
            closed_at=e.closed_at,
            closed_by=e.by,
            version=recorded.seq,
        )
