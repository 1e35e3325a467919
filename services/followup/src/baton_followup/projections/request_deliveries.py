"""Delivery state per request, projected from delivery's stream (for the brief)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, JSON, MetaData, String, Table

from baton_shared.contracts import delivery as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class RequestDeliveriesProjection(RowPerAggregate):
    name = "request_deliveries"
    source = "delivery"
    aggregate_type = "request"
    key = "request_id"
    created_by = None

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.request_deliveries = Table(
            f"request_deliveries{suffix}",
            metadata,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("status", String(24), nullable=False),
            Column("work_orders", JSON, nullable=False),  # work order id -> department, status, due_by, overdue
            Column("accepted_at", DateTime(timezone=True)),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_request_deliveries{suffix}_client", "client_id"),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.DeliveryEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        row = dict(
            row
            or {
                "request_id": e.request_id,
                "client_id": e.client_id,
                "status": ev.IN_DELIVERY,
                "work_orders": {},
                "accepted_at": None,
            },
            version=recorded.seq,
        )
        row["status"] = ev.handover_after(row["status"], e)  # the request's handover state, as delivery publishes it
        if isinstance(e, ev.WorkOrderEvent):
            row["work_orders"] = ev.work_orders_after(row["work_orders"], e)
        elif isinstance(e, ev.DeliveryAccepted):
            row["accepted_at"] = e.accepted_at
        return row
