"""Request deliveries read model: one row per request, its handover state and rounds."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, JSON, MetaData, String, Table

from baton_shared.contracts import delivery as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class RequestDeliveriesProjection(RowPerAggregate):
    name = "request_deliveries"
    aggregate_type = "request"
    key = "request_id"
    created_by = None  # the first WorkOrderOpened creates the row; later ones must not reset it

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.request_deliveries = Table(
            f"request_deliveries{suffix}",
            metadata,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("handover", String(30), nullable=False),
            Column("handover_round", Integer, nullable=False),
            Column("rounds", JSON, nullable=False),
            Column("acceptance", JSON),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.DeliveryEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if row is None:
            if not isinstance(e, ev.WorkOrderOpened):
                return None
            row = {
                "request_id": e.request_id,
                "client_id": e.client_id,
                "account_manager": e.account_manager,
                "handover": ev.IN_DELIVERY,
                "handover_round": 0,
                "rounds": [],
                "acceptance": None,
            }
        row = dict(row, updated_at=at, version=recorded.seq, handover=ev.handover_after(row["handover"], e))
        if isinstance(e, ev.RequestReadyForHandover):
            row["handover_round"] = e.handover_round
            row["rounds"] = [*row["rounds"], {"round": e.handover_round, "ready_at": at.isoformat(), "outcome": None}]
        elif isinstance(e, ev.DeliveryRejected):
            row["rounds"] = _close_round(
                row["rounds"],
                e.handover_round,
                {
                    "outcome": "rework",
                    "feedback": e.feedback,
                    "rework": [item.model_dump(mode="json") for item in e.rework],
                    "decided_at": at.isoformat(),
                },
            )
        elif isinstance(e, ev.DeliveryAccepted):
            row["acceptance"] = ev.acceptance_of(e)
            row["rounds"] = _close_round(
                row["rounds"], e.handover_round, {"outcome": "accepted", "decided_at": at.isoformat()}
            )
        return row


def _close_round(rounds: list[dict], number: int, outcome: dict) -> list[dict]:
    return [dict(r, **outcome) if r["round"] == number else r for r in rounds]
