"""Requests read model: one row per request, with its clarifications, handoffs and changes."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, JSON, MetaData, String, Table, Text

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class RequestsProjection(RowPerAggregate):
    name = "requests"
    aggregate_type = "request"
    key = "request_id"
    created_by = ev.NeedCaptured

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.requests = Table(
            f"requests{suffix}",
            metadata,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("summary", Text, nullable=False),
            Column("requirements", JSON, nullable=False),
            Column("budget", String(40)),
            Column("currency", String(3), nullable=False),
            Column("desired_by", Date),
            Column("status", String(20), nullable=False),
            Column("clarifications", JSON, nullable=False),
            Column("handoffs", JSON, nullable=False),
            Column("changes", JSON, nullable=False),
            Column("cancellation", JSON),
            Column("captured_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_requests{suffix}_client", "client_id", "captured_at"),
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        return fold(row, recorded)


def fold(row: dict | None, recorded: RecordedEvent) -> dict | None:
    e, env = recorded.event, recorded.envelope
    at = env.occurred_at.isoformat()
    if isinstance(e, ev.NeedCaptured):
        return {
            "request_id": e.request_id,
            "client_id": e.client_id,
            "summary": e.summary,
            "requirements": dict(e.requirements),
            "budget": None if e.budget is None else str(e.budget),
            "currency": e.currency,
            "desired_by": e.desired_by,
            "status": "captured",
            "clarifications": [],
            "handoffs": [],
            "changes": [],
            "cancellation": None,
            "captured_at": env.occurred_at,
            "updated_at": env.occurred_at,
            "version": recorded.seq,
        }
    if row is None:
        return None
    row = dict(row, updated_at=env.occurred_at, version=recorded.seq)
    if isinstance(e, ev.ClarificationRecorded):
        row["clarifications"] = [*row["clarifications"], {"question": e.question, "answer": e.answer, "at": at}]
        if row["status"] == "captured":
            row["status"] = "clarifying"
    elif isinstance(e, ev.HandoffRequested):
        row["handoffs"] = [
            *row["handoffs"],
            {
                "handoff_id": e.handoff_id,
                "department": e.department,
                "scope": e.scope,
                "due_by": e.due_by.isoformat(),
                "account_manager": e.account_manager,
                "requested_at": at,
            },
        ]
        row["status"] = "handed_off"
    elif isinstance(e, ev.ChangeRequested):
        row["changes"] = [
            *row["changes"],
            {
                "change_id": e.change_id,
                "department": e.department,
                "description": e.description,
                "requested_by": e.requested_by,
                "at": at,
            },
        ]
    elif isinstance(e, ev.RequestCancelled):
        row["status"] = "cancelled"
        row["cancellation"] = {"reason": e.reason, "cancelled_at": e.cancelled_at.isoformat(), "by": env.actor}
    return row
