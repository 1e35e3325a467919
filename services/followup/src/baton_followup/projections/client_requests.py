"""Client requests, projected from intake's stream: needs and the promises made on them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, JSON, MetaData, String, Table, Text

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class ClientRequestsProjection(RowPerAggregate):
    name = "client_requests"
    source = "intake"
    aggregate_type = "request"
    key = "request_id"
    created_by = ev.NeedCaptured

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.client_requests = Table(
            f"client_requests{suffix}",
            metadata,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("summary", Text, nullable=False),
            Column("status", String(16), nullable=False),
            Column("desired_by", Date),
            Column("promises", JSON, nullable=False),  # per handoff: department, scope, due_by
            Column("source_opportunity_id", String(64)),
            Column("captured_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_client_requests{suffix}_client", "client_id"),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, (ev.NeedCaptured, ev.HandoffRequested, ev.RequestCancelled))

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        if isinstance(e, ev.NeedCaptured):
            return {
                "request_id": e.request_id,
                "client_id": e.client_id,
                "summary": e.summary,
                "status": "captured",
                "desired_by": e.desired_by,
                "promises": [],
                "source_opportunity_id": e.source_opportunity_id,
                "captured_at": recorded.envelope.occurred_at,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, version=recorded.seq)
        if isinstance(e, ev.HandoffRequested):
            row["status"] = "handed_off"
            row["promises"] = [
                *row["promises"],
                {
                    "handoff_id": e.handoff_id,
                    "department": e.department,
                    "scope": e.scope,
                    "due_by": e.due_by.isoformat(),
                },
            ]
        elif isinstance(e, ev.RequestCancelled):
            row["status"] = "cancelled"
        return row
