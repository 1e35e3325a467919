"""What is late or stuck for a client: delivery's overdue or blocked work orders, and reviews
past their date. Both count in the client's health; each is recorded only when it changes.
Mixed into ``Relationship``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from baton_shared.contracts import followup as ev


@dataclass(frozen=True)
class WorkConcern:
    overdue: bool = False
    blocked: bool = False


NONE = WorkConcern()

# delivery's event -> the concern after it, given the one before
_AFTER = {
    "WorkOrderOverdue": lambda c: WorkConcern(True, c.blocked),
    "WorkOrderBlocked": lambda c: WorkConcern(c.overdue, True),
    "WorkOrderUnblocked": lambda c: WorkConcern(c.overdue, False),
    "WorkOrderCompleted": lambda c: NONE,
    "WorkOrderCancelled": lambda c: NONE,
}
WORK_EVENTS = tuple(_AFTER)


class LateAndStuck:
    id: str
    follow_ups: dict[str, Any]
    work_concerns: dict[str, WorkConcern]
    overdue_reviews: set[tuple[str, date]]

    def note_work(self, event_type: str, work_order_id: str, request_id: str, department: str, now: datetime) -> None:
        """Delivery's ``event_type`` happened to the work order: record the concern if it changed."""
        before = self.work_concerns.get(work_order_id, NONE)
        after = _AFTER[event_type](before)
        if after != before:
            self._record(
                ev.WorkConcernChanged(
                    client_id=self.id,
                    work_order_id=work_order_id,
                    request_id=request_id,
                    department=department,
                    overdue=after.overdue,
                    blocked=after.blocked,
                    noted_at=now,
                )
            )

    def note_review_overdue(self, follow_up_id: str, today: date) -> bool:
        """Record that an open review passed its date, once per due date."""
        review = self.follow_ups.get(follow_up_id)
        if review is None or review.kind != "review" or review.status != "open" or review.due_on >= today:
            return False
        if (follow_up_id, review.due_on) in self.overdue_reviews:
            return False
        self._record(
            ev.ReviewOverdue(client_id=self.id, follow_up_id=follow_up_id, due_on=review.due_on, detected_on=today)
        )
        return True

    def _on_WorkConcernChanged(self, e: ev.WorkConcernChanged) -> None:
        concern = WorkConcern(e.overdue, e.blocked)
        if concern == NONE:
            self.work_concerns.pop(e.work_order_id, None)
        else:
            self.work_concerns[e.work_order_id] = concern

    def _on_ReviewOverdue(self, e: ev.ReviewOverdue) -> None:
        self.overdue_reviews.add((e.follow_up_id, e.due_on))
