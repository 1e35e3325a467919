"""Client health read model: one row per client with the score, its reasons and the current
at-risk spell, and a row per change of the score (the score as of any date). Folded from
follow-up's log only, with each event's own time, so a rebuild gives the same rows.

A client's row keeps only the changes the at-risk rule still needs (``risk_window``, at most
101), not every change: folding an event then costs the same for a client of many years."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Connection, DateTime, Index, Integer, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate
from baton_shared.projections.sql import existing_keys, insert_new, load_rows, upsert

from baton_followup.domain.health import HealthInputs, Spell, at_risk, health, risk_window

COUNTED = (
    ev.RelationshipStarted,
    ev.SatisfactionRecorded,
    ev.RecoveryOpened,
    ev.RecoveryClosed,
    ev.ContactRecorded,
    ev.ContactSuppressed,
    ev.OpportunityWon,
    ev.OpportunityDeclined,
    ev.ProgramCancelled,
    ev.ContactPolicyAdopted,
    ev.ComplaintOpened,
    ev.ComplaintResolved,
    ev.ComplaintConfirmed,
    ev.ComplaintReopened,
    ev.ComplaintDeadlineBreached,
    ev.WorkConcernChanged,
    ev.ReviewOverdue,
    ev.FollowUpClosed,
    ev.FollowUpRescheduled,
)


class ClientHealthProjection(RowPerAggregate):
    name = "client_health"
    aggregate_type = "client"
    key = "client_id"
    created_by = None

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.client_health = Table(
            f"client_health{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("score", Integer, nullable=False),
            Column("reasons", JSON, nullable=False),
            Column("inputs", JSON, nullable=False),
            Column("risk_window", JSON, nullable=False),  # [[at, score, until], ...]: see risk_window
            Column("at_risk_reason", Text),
            Column("at_risk_since", DateTime(timezone=True)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_client_health{suffix}_at_risk", "at_risk_since"),
        )
        self.changes = Table(
            f"client_health_changes{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("version", BigInteger, primary_key=True),  # the event's position: one change per event
            Column("at", DateTime(timezone=True), nullable=False),
            Column("score", Integer, nullable=False),
            Column("reasons", JSON, nullable=False),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, COUNTED)

    def splits_by_aggregate(self) -> bool:
        return True  # both tables are keyed by the client, and a row folds only its client's events

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        mine = [e for e in events if self.wanted(e)]
        if not mine:
            return
        rows = load_rows(conn, self.table, self.key, existing_keys(mine, None, self.key_of))
        changed: dict[str, dict] = {}
        changes = []
        for recorded in mine:
            before = rows.get(self.key_of(recorded))
            row = self.fold(before, recorded)
            rows[row["client_id"]] = changed[row["client_id"]] = row
            if before is None or before["score"] != row["score"]:
                at, score, reasons = recorded.envelope.occurred_at, row["score"], row["reasons"]
                changes.append(
                    {
                        "client_id": row["client_id"],
                        "version": recorded.seq,
                        "at": at,
                        "score": score,
                        "reasons": reasons,
                    }
                )
        upsert(conn, self.table, list(changed.values()), [self.key])
        insert_new(conn, self.changes, changes, ["client_id", "version"])

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        row = dict(row or _new(e.client_id))
        inputs = HealthInputs(**row["inputs"])
        _count(inputs, e)
        now = health(inputs)
        window = risk_window(_spells(row["risk_window"]), at, now.score)
        reason = at_risk(now.score, [(when, score) for when, score, _ in window], at)
        since = row["at_risk_since"] if reason and row["at_risk_since"] else (at if reason else None)
        return dict(
            row,
            score=now.score,
            reasons=list(now.reasons),
            inputs=dict(vars(inputs)),  # _count replaces a list, never changes one: no deep copy
            risk_window=[[when.isoformat(), score, until and until.isoformat()] for when, score, until in window],
            at_risk_reason=reason,
            at_risk_since=since,
            updated_at=at,
            version=recorded.seq,
        )


def _spells(stored: list) -> list[Spell]:
    return [
        (datetime.fromisoformat(when), score, until and datetime.fromisoformat(until)) for when, score, until in stored
    ]


def _count(inputs: HealthInputs, e: ev.FollowupEvent) -> None:
    if getattr(e, "follow_up_id", None) in inputs.overdue_reviews and _review_settled(e):
        inputs.overdue_reviews = [f for f in inputs.overdue_reviews if f != e.follow_up_id]
    if isinstance(e, ev.SatisfactionRecorded):
        inputs.scores = [*inputs.scores, e.score][-3:]  # a new list: the row's stays as it was
    elif isinstance(e, ev.RecoveryOpened):
        inputs.open_recoveries += 1
    elif isinstance(e, ev.RecoveryClosed):
        inputs.open_recoveries = max(0, inputs.open_recoveries - 1)
    elif isinstance(e, ev.ContactRecorded):
        inputs.reached += e.outcome in ("reached", "stop")
        inputs.stopped = inputs.stopped or e.outcome == "stop"
    elif isinstance(e, ev.ContactSuppressed):
        inputs.refused += 1
    elif isinstance(e, ev.OpportunityWon):
        inputs.won += 1
    elif isinstance(e, ev.OpportunityDeclined):
        inputs.declined += 1
    elif isinstance(e, ev.ProgramCancelled):
        inputs.notices += 1
    elif isinstance(e, ev.ContactPolicyAdopted):
        inputs.stopped = False
    elif isinstance(e, (ev.ComplaintOpened, ev.ComplaintReopened)):
        inputs.open_complaints = sorted({*inputs.open_complaints, e.complaint_id})
    elif isinstance(e, (ev.ComplaintResolved, ev.ComplaintConfirmed)):
        inputs.open_complaints = [c for c in inputs.open_complaints if c != e.complaint_id]
        inputs.breached_complaints = [c for c in inputs.breached_complaints if c != e.complaint_id]
    elif isinstance(e, ev.ComplaintDeadlineBreached) and e.complaint_id in inputs.open_complaints:
        inputs.breached_complaints = sorted({*inputs.breached_complaints, e.complaint_id})
    elif isinstance(e, ev.WorkConcernChanged):
        inputs.overdue_work = _with(inputs.overdue_work, e.work_order_id, e.overdue)
        inputs.blocked_work = _with(inputs.blocked_work, e.work_order_id, e.blocked)
    elif isinstance(e, ev.ReviewOverdue):
        inputs.overdue_reviews = _with(inputs.overdue_reviews, e.follow_up_id, True)


def _review_settled(e: ev.FollowupEvent) -> bool:
    """Done (reached), closed, or moved to a new date: no longer overdue until recorded again."""
    if isinstance(e, ev.ContactRecorded):
        return e.outcome in ("reached", "stop")
    return isinstance(e, (ev.FollowUpClosed, ev.FollowUpRescheduled))


def _with(ids: list[str], item: str, present: bool) -> list[str]:
    return sorted({*ids, item}) if present else [i for i in ids if i != item]


def _new(client_id: str) -> dict:
    return {
        "client_id": client_id,
        "score": 100,
        "reasons": [],
        "inputs": asdict(HealthInputs()),
        "risk_window": [],
        "at_risk_reason": None,
        "at_risk_since": None,
    }
