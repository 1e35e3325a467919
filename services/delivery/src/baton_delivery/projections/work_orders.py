"""Work orders read model: one row per work order, what a department board shows."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    JSON,
    MetaData,
    String,
    Table,
    Text,
)

from baton_shared.contracts import delivery as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class WorkOrdersProjection(RowPerAggregate):
    name = "work_orders"
    aggregate_type = "request"
    key = "work_order_id"
    created_by = ev.WorkOrderOpened

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.work_orders = Table(
            f"work_orders{suffix}",
            metadata,
            Column("work_order_id", String(64), primary_key=True),
            Column("request_id", String(64), nullable=False),
            Column("client_id", String(64), nullable=False),
            Column("department", String(64), nullable=False),
            Column("scope", Text, nullable=False),
            Column("due_by", Date, nullable=False),
            Column("status", String(20), nullable=False),
            Column("status_before_block", String(20)),
            Column("member", String(200)),
            Column("percent", Integer),
            Column("last_note", Text),
            Column("blocked_reason", Text),
            Column("blocked_since", DateTime(timezone=True)),
            Column("blocked_seconds", Float, nullable=False),
            Column("overdue", Boolean, nullable=False),
            Column("rework_rounds", Integer, nullable=False),
            Column("changes", JSON, nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("opened_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("completed_at", DateTime(timezone=True)),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_work_orders{suffix}_department", "department", "status", "due_by"),
            Index(f"ix_work_orders{suffix}_request", "request_id"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "work_order_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.WorkOrderEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.WorkOrderOpened):
            return {
                "work_order_id": e.work_order_id,
                "request_id": e.request_id,
                "client_id": e.client_id,
                "department": e.department,
                "scope": e.scope,
                "due_by": e.due_by,
                "status": "opened",
                "status_before_block": None,
                "member": None,
                "percent": None,
                "last_note": None,
                "blocked_reason": None,
                "blocked_since": None,
                "blocked_seconds": 0.0,
                "overdue": False,
                "rework_rounds": 0,
                "changes": [],
                "account_manager": e.account_manager,
                "opened_at": at,
                "updated_at": at,
                "completed_at": None,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, updated_at=at, version=recorded.seq)
        if isinstance(e, ev.WorkOrderAccepted):
            row.update(status="accepted", member=e.member)
        elif isinstance(e, ev.WorkOrderStarted):
            row["status"] = "in_progress"
        elif isinstance(e, ev.WorkOrderProgressed):
            row["last_note"] = e.note
            if e.percent is not None:
                row["percent"] = e.percent
        elif isinstance(e, ev.WorkOrderBlocked):
            row.update(
                status="blocked", status_before_block=row["status"], blocked_reason=e.reason, blocked_since=e.blocked_at
            )
        elif isinstance(e, ev.WorkOrderUnblocked):
            row.update(
                status=row["status_before_block"] or "in_progress",
                status_before_block=None,
                blocked_reason=None,
                blocked_since=None,
                blocked_seconds=row["blocked_seconds"] + e.blocked_seconds,
            )
        elif isinstance(e, ev.WorkOrderCompleted):
            row.update(status="completed", completed_at=e.completed_at, percent=100)
            if e.note:
                row["last_note"] = e.note
        elif isinstance(e, ev.WorkOrderReopened):
            row.update(
                status="reopened", rework_rounds=row["rework_rounds"] + 1, completed_at=None, last_note=e.description
            )
        elif isinstance(e, ev.WorkOrderCancelled):
            row["status"] = "cancelled"
        elif isinstance(e, ev.ChangeAttached):
            row["changes"] = [
                *row["changes"],
                {
                    "change_id": e.change_id,
                    "description": e.description,
                    "requested_by": e.requested_by,
                    "requested_at": e.requested_at.isoformat(),
                },
            ]
        elif isinstance(e, ev.WorkOrderOverdue):
            row["overdue"] = True
        return row
