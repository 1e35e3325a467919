"""Delivery's progress on each request, projected in intake from delivery's stream.

Intake never calls delivery: it reads delivery's events like any other
consumer, so the account manager's request view shows where every piece of
work stands even while delivery is down.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, JSON, MetaData, String, Table

from baton_shared.contracts import delivery as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class DeliveryProgressProjection(RowPerAggregate):
    name = "delivery_progress"
    source = "delivery"
    aggregate_type = "request"
    key = "request_id"
    created_by = None

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.delivery_progress = Table(
            f"delivery_progress{suffix}",
            metadata,
            Column("request_id", String(64), primary_key=True),
            Column("handover", String(30), nullable=False),
            Column("handover_round", Integer, nullable=False),
            Column("work_orders", JSON, nullable=False),
            Column("acceptance", JSON),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.DeliveryEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if row is None:
            row = {
                "request_id": e.request_id,
                "handover": ev.IN_DELIVERY,
                "handover_round": 0,
                "work_orders": {},
                "acceptance": None,
            }
        row = dict(row, updated_at=at, version=recorded.seq, handover=ev.handover_after(row["handover"], e))
        if isinstance(e, ev.WorkOrderEvent):
            row["work_orders"] = ev.work_orders_after(row["work_orders"], e)
        elif isinstance(e, ev.RequestReadyForHandover):
            row["handover_round"] = e.handover_round
        elif isinstance(e, ev.DeliveryAccepted):
            row["acceptance"] = ev.acceptance_of(e)
        return row
