"""Complaints: a case per complaint, its deadlines by tier, its lifecycle and escalation.

Lifecycle (an illegal move is a DomainRuleViolation naming the state)::

    opened -> acknowledged -> in_progress -> resolved -> confirmed
                   |               ^            |
                   +---------------+-- reopened <+   (resolved: the client says no)

A first response missed escalates to the account manager, a resolution missed to
``HEAD_ROLE``; each deadline is recorded breached once per round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton_shared.contracts import followup as ev
from baton_shared.domain import DomainRuleViolation, NotFound

# Who a missed resolution escalates to: the head of account management (the ``head`` role).
HEAD_ROLE = "head"
ACCOUNT_MANAGER_ROLE = "account_manager"

OPENED, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CONFIRMED, REOPENED = (
    "opened",
    "acknowledged",
    "in_progress",
    "resolved",
    "confirmed",
    "reopened",
)
BEING_WORKED = {ACKNOWLEDGED, IN_PROGRESS, REOPENED}
CLOSED = {RESOLVED, CONFIRMED}


@dataclass(frozen=True)
class ComplaintDeadlines:
    """How long a tier's client waits at most: for the first response, and for the resolution."""

    tier: str
    first_response_hours: int
    resolution_hours: int


@dataclass
class Complaint:
    id: str
    status: str
    respond_by: datetime
    resolve_by: datetime
    round: int = 1
    department: str | None = None
    breached: set[tuple[str, int]] = field(default_factory=set)


def deadlines_for(tier: str, table: Mapping[str, ComplaintDeadlines]) -> ComplaintDeadlines:
    return table.get(tier) or table["standard"]


class ComplaintCases:
    """The complaint half of the client's relationship (mixed into ``Relationship``)."""

    complaints: dict[str, Complaint]
    account_manager: str
    tier: str

    def open_complaint(
        self,
        complaint_id: str,
        *,
        category: str,
        severity: str,
        description: str,
        concerns: Mapping[str, str | None],
        deadlines: Mapping[str, ComplaintDeadlines],
        now: datetime,
        by: str,
    ) -> None:
        if complaint_id in self.complaints:
            return  # the same case again (a retried call): nothing new
        d = deadlines_for(self.tier, deadlines)
        self._record(
            ev.ComplaintOpened(
                client_id=self.id,
                complaint_id=complaint_id,
                category=category,
                severity=severity,
                description=description,
                tier=self.tier,
                account_manager=self.account_manager or "unassigned",
                opened_at=now,
                respond_by=now + timedelta(hours=d.first_response_hours),
                resolve_by=now + timedelta(hours=d.resolution_hours),
                by=by,
                **concerns,
            )
        )

    def acknowledge_complaint(self, complaint_id: str, response: str, now: datetime, by: str) -> None:
        self._complaint(complaint_id, {OPENED}, "acknowledge")
        self._record(
            ev.ComplaintAcknowledged(
                client_id=self.id, complaint_id=complaint_id, response=response, acknowledged_at=now, by=by
            )
        )

    def assign_complaint(self, complaint_id: str, department: str, now: datetime, by: str) -> None:
        self._complaint(complaint_id, BEING_WORKED, "assign")
        self._record(
            ev.ComplaintAssigned(
                client_id=self.id, complaint_id=complaint_id, department=department, assigned_at=now, by=by
            )
        )

    def resolve_complaint(self, complaint_id: str, resolution: str, root_cause: str, now: datetime, by: str) -> None:
        self._complaint(complaint_id, BEING_WORKED, "resolve")
        self._record(
            ev.ComplaintResolved(
                client_id=self.id,
                complaint_id=complaint_id,
                resolution=resolution,
                root_cause=root_cause,
                resolved_at=now,
                by=by,
            )
        )

    def confirm_complaint(self, complaint_id: str, now: datetime, by: str) -> None:
        self._complaint(complaint_id, {RESOLVED}, "confirm")
        self._record(ev.ComplaintConfirmed(client_id=self.id, complaint_id=complaint_id, confirmed_at=now, by=by))

    def reopen_complaint(
        self, complaint_id: str, reason: str, deadlines: Mapping[str, ComplaintDeadlines], now: datetime, by: str
    ) -> None:
        complaint = self._complaint(complaint_id, {RESOLVED}, "reopen")
        d = deadlines_for(self.tier, deadlines)
        self._record(
            ev.ComplaintReopened(
                client_id=self.id,
                complaint_id=complaint_id,
                reason=reason,
                reopened_at=now,
                resolve_by=now + timedelta(hours=d.resolution_hours),
                round=complaint.round + 1,
                by=by,
            )
        )

    def record_breaches(self, complaint_id: str, now: datetime) -> int:
        """Record each deadline of the case that passed unmet and is not yet recorded; how many."""
        complaint = self.complaints.get(complaint_id)
        if complaint is None:
            return 0
        due = []
        if complaint.status == OPENED and complaint.respond_by <= now:
            due.append(("first_response", complaint.respond_by, ACCOUNT_MANAGER_ROLE, self.account_manager or None))
        if complaint.status not in CLOSED and complaint.resolve_by <= now:
            due.append(("resolution", complaint.resolve_by, HEAD_ROLE, None))
        recorded = 0
        for deadline, due_at, role, person in due:
            if (deadline, complaint.round) in complaint.breached:
                continue
            self._record(
                ev.ComplaintDeadlineBreached(
                    client_id=self.id,
                    complaint_id=complaint_id,
                    deadline=deadline,
                    round=complaint.round,
                    due_at=due_at,
                    detected_at=now,
                    escalated_to_role=role,
                    escalated_to=person,
                )
            )
            recorded += 1
        return recorded

    def _complaint(self, complaint_id: str, allowed: set[str], action: str) -> Complaint:
        complaint = self.complaints.get(complaint_id)
        if complaint is None:
            raise NotFound(f"complaint {complaint_id} not found")
        if complaint.status not in allowed:
            raise DomainRuleViolation(
                f"cannot {action} complaint {complaint_id}: it is {complaint.status.replace('_', ' ')}"
                f" (allowed from: {', '.join(sorted(s.replace('_', ' ') for s in allowed))})"
            )
        return complaint

    # --- state ---------------------------------------------------------------------

    def _on_ComplaintOpened(self, e: ev.ComplaintOpened) -> None:
        self.complaints[e.complaint_id] = Complaint(e.complaint_id, OPENED, e.respond_by, e.resolve_by)

    def _on_ComplaintAcknowledged(self, e: ev.ComplaintAcknowledged) -> None:
        self.complaints[e.complaint_id].status = ACKNOWLEDGED

    def _on_ComplaintAssigned(self, e: ev.ComplaintAssigned) -> None:
        complaint = self.complaints[e.complaint_id]
        complaint.status, complaint.department = IN_PROGRESS, e.department

    def _on_ComplaintResolved(self, e: ev.ComplaintResolved) -> None:
        self.complaints[e.complaint_id].status = RESOLVED

    def _on_ComplaintConfirmed(self, e: ev.ComplaintConfirmed) -> None:
        self.complaints[e.complaint_id].status = CONFIRMED

    def _on_ComplaintReopened(self, e: ev.ComplaintReopened) -> None:
        complaint = self.complaints[e.complaint_id]
        complaint.status, complaint.resolve_by, complaint.round = REOPENED, e.resolve_by, e.round

    def _on_ComplaintDeadlineBreached(self, e: ev.ComplaintDeadlineBreached) -> None:
        self.complaints[e.complaint_id].breached.add((e.deadline, e.round))
