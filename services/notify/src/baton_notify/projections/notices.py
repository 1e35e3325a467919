"""The notices as their events left them (notify's own stream): one row per notice, each
person's status in ``people``; the outbox sends what waits."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, DateTime, Index, Integer, MetaData, String, Table, Text

from baton_shared.contracts import notify as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate
from baton_shared.projections.sql import upsert

from baton_notify.domain.notice import GIVEN_UP, QUEUED, SENT


class NoticesProjection(RowPerAggregate):
    name = "notices"
    aggregate_type = "notice"
    key = "notice_id"
    created_by = None  # every NoticeQueued adds a person to the notice

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = Table(
            f"notices{suffix}",
            metadata,
            Column("notice_id", String(64), primary_key=True),
            Column("kind", String(40), nullable=False),
            Column("subject", Text, nullable=False),
            Column("client_id", String(64), nullable=True),
            Column("cause_id", String(200), nullable=False),
            Column("cause_at", DateTime(timezone=True), nullable=False),
            Column("queued_at", DateTime(timezone=True), nullable=False),
            Column("people", JSON, nullable=False),  # person -> {"status", "at", "reason"}
            Column("waiting", Integer, nullable=False),  # people still queued
            Column("attempts", Integer, nullable=False),
            Column("retry_at", DateTime(timezone=True), nullable=True),
            Column("claimed_until", DateTime(timezone=True), nullable=True),
            Column("last_error", Text, nullable=True),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_notices{suffix}_waiting", "waiting", "retry_at"),
            Index(f"ix_notices{suffix}_queued_at", "queued_at"),
            Index(f"ix_notices{suffix}_client", "client_id"),  # a client's notices (baton trace)
        )
        # The same, per person: who was told what (the list a person reads).
        self.people = Table(
            f"notice_people{suffix}",
            metadata,
            Column("notice_id", String(64), primary_key=True),
            Column("person", String(200), primary_key=True),
            Column("status", String(20), nullable=False),
            Column("at", DateTime(timezone=True), nullable=False),
            Column("reason", Text, nullable=True),
            Index(f"ix_notice_people{suffix}_person", "person", "at"),
        )

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        super().apply(conn, events)
        statuses: dict[tuple[str, str], dict] = {}
        for recorded in events:
            e, at = recorded.event, recorded.envelope.occurred_at
            if isinstance(e, ev.NoticeQueued):
                status = {"status": QUEUED, "at": at, "reason": None}
            elif isinstance(e, ev.NoticeSent):
                status = {"status": SENT, "at": e.sent_at, "reason": None}
            elif isinstance(e, ev.NoticeGivenUp):
                status = {"status": GIVEN_UP, "at": at, "reason": e.reason}
            else:
                continue
            statuses[(e.notice_id, e.person)] = {"notice_id": e.notice_id, "person": e.person, **status}
        upsert(conn, self.people, list(statuses.values()), ["notice_id", "person"])

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.NoticeQueued):
            row = row or {
                "notice_id": e.notice_id,
                "kind": e.kind,
                "subject": e.subject,
                "client_id": e.client_id,
                "cause_id": e.cause_id,
                "cause_at": e.cause_at,
                "queued_at": at,
                "people": {},
                "attempts": 0,
                "retry_at": None,
                "claimed_until": None,
                "last_error": None,
            }
            return self._with(row, recorded, e.person, {"status": QUEUED, "at": at.isoformat()})
        if row is None:
            return None
        row = dict(row)
        if isinstance(e, ev.NoticeClaimed):
            row.update(attempts=e.attempt, claimed_until=e.until, retry_at=None)
        elif isinstance(e, ev.NoticeFailed):
            row.update(retry_at=e.retry_at, claimed_until=None, last_error=e.error)
        elif isinstance(e, ev.NoticeSent):
            return self._with(row, recorded, e.person, {"status": SENT, "at": e.sent_at.isoformat()})
        elif isinstance(e, ev.NoticeGivenUp):
            return self._with(row, recorded, e.person, {"status": GIVEN_UP, "at": at.isoformat(), "reason": e.reason})
        row["version"] = recorded.seq
        return row

    @staticmethod
    def _with(row: dict, recorded: RecordedEvent, person: str, status: dict) -> dict:
        people = {**row["people"], person: status}
        waiting = sum(1 for s in people.values() if s["status"] == QUEUED)
        return dict(row, people=people, waiting=waiting, version=recorded.seq)
