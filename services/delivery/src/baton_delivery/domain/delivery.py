"""The delivery of one client request: its work orders, the handover, the client's verdict.

Work order lifecycle::

    opened -> accepted -> in_progress <-> blocked -> completed
                 |            ^                        |
                 +-> blocked  +---- reopened <---------+  (rework)
    any state but completed -> cancelled

When every live (not cancelled) work order is complete the request is ready
for handover, decided in the same append as the last completion. The client
then accepts, or rejects with rework per department, which reopens those
departments' work orders for the next round; each rework item says who pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from baton_shared.contracts import delivery as ev
from baton_shared.contracts import intake
from baton_shared.domain import Aggregate, DomainRuleViolation, NotFound

OPENED, ACCEPTED, IN_PROGRESS, BLOCKED = "opened", "accepted", "in_progress", "blocked"
COMPLETED, REOPENED, CANCELLED = "completed", "reopened", "cancelled"
LIVE = {OPENED, ACCEPTED, IN_PROGRESS, BLOCKED, REOPENED}

# Handover states of the request (published on the events that move it).
IN_DELIVERY, READY, ACCEPTED_BY_CLIENT, REWORK = ev.IN_DELIVERY, ev.READY_FOR_HANDOVER, ev.ACCEPTED, ev.REWORK


@dataclass
class WorkOrder:
    work_order_id: str
    department: str
    scope: str
    due_by: date
    status: str = OPENED
    member: str | None = None
    blocked_since: datetime | None = None
    status_before_block: str | None = None
    overdue: bool = False
    change_ids: set[str] = field(default_factory=set)


class RequestDelivery(Aggregate):
    aggregate_type = "request"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.client_id = ""
        self.account_manager = ""
        self.work_orders: dict[str, WorkOrder] = {}
        self.handover = IN_DELIVERY
        self.handover_round = 0
        self.cancelled = False

    @property
    def exists(self) -> bool:
        return bool(self.work_orders)

    @classmethod
    def missing(cls, aggregate_id: str) -> str:
        return f"no delivery for request {aggregate_id}"

    # --- reactions to intake ------------------------------------------------

    def open_work_order(self, handoff: intake.HandoffRequested, handoff_event_id: str) -> None:
        if handoff.handoff_id in self.work_orders:
            return  # already open: a redelivered handoff changes nothing
        self._record(
            ev.WorkOrderOpened(
                request_id=self.id,
                client_id=handoff.client_id,
                work_order_id=handoff.handoff_id,
                department=handoff.department,
                scope=handoff.scope,
                due_by=handoff.due_by,
                account_manager=handoff.account_manager,
                handoff_event_id=handoff_event_id,
                # new work arrived before the client saw the result: back in delivery
                handover=IN_DELIVERY if self.handover == READY else self.handover,
            )
        )

    def attach_change(self, change: intake.ChangeRequested, requested_at: datetime) -> None:
        targets = [
            wo
            for wo in self._sorted()
            if wo.status != CANCELLED
            and change.change_id not in wo.change_ids
            and (wo.department == change.department if change.department else wo.status in LIVE)
        ]
        for wo in targets:
            self._record(
                ev.ChangeAttached(
                    **self._ids(wo),
                    change_id=change.change_id,
                    description=change.description,
                    requested_by=change.requested_by,
                    requested_at=requested_at,
                )
            )

    def cancel(self, reason: str) -> None:
        for wo in self._sorted():
            if wo.status in LIVE:
                self._record(ev.WorkOrderCancelled(**self._ids(wo), reason=reason))

    # --- the department's commands --------------------------------------------

    def accept(self, work_order_id: str, member: str) -> None:
        wo = self._expect(work_order_id, {OPENED}, "accept")
        self._record(ev.WorkOrderAccepted(**self._ids(wo), member=member))

    def start(self, work_order_id: str) -> None:
        wo = self._expect(work_order_id, {ACCEPTED, REOPENED}, "start")
        self._record(ev.WorkOrderStarted(**self._ids(wo)))

    def progress(self, work_order_id: str, note: str, percent: int | None) -> None:
        wo = self._expect(work_order_id, {IN_PROGRESS}, "record progress on")
        self._record(ev.WorkOrderProgressed(**self._ids(wo), note=note, percent=percent))

    def block(self, work_order_id: str, reason: str, now: datetime) -> None:
        wo = self._expect(work_order_id, {ACCEPTED, IN_PROGRESS, REOPENED}, "block")
        self._record(ev.WorkOrderBlocked(**self._ids(wo), reason=reason, blocked_at=now))

    def unblock(self, work_order_id: str, now: datetime) -> None:
        wo = self._expect(work_order_id, {BLOCKED}, "unblock")
        seconds = max(0.0, (now - wo.blocked_since).total_seconds()) if wo.blocked_since else 0.0
        self._record(ev.WorkOrderUnblocked(**self._ids(wo), unblocked_at=now, blocked_seconds=seconds))

    def complete(self, work_order_id: str, note: str, now: datetime) -> None:
        wo = self._expect(work_order_id, {IN_PROGRESS}, "complete")
        self._record(ev.WorkOrderCompleted(**self._ids(wo), note=note, completed_at=now))
        live = [w for w in self._sorted() if w.status != CANCELLED]
        if live and all(w.status == COMPLETED for w in live):
            self._record(
                ev.RequestReadyForHandover(
                    request_id=self.id,
                    client_id=self.client_id,
                    handover_round=self.handover_round + 1,
                    work_order_ids=tuple(w.work_order_id for w in live),
                    handover=READY,
                )
            )

    # --- time -----------------------------------------------------------------

    def mark_overdue(self, work_order_id: str, today: date) -> bool:
        wo = self.work_orders.get(work_order_id)
        if wo is None or wo.overdue or wo.status not in LIVE or wo.due_by >= today:
            return False
        self._record(
            ev.WorkOrderOverdue(
                **self._ids(wo), due_by=wo.due_by, detected_on=today, account_manager=self.account_manager
            )
        )
        return True

    # --- the client's verdict --------------------------------------------------

    def accept_delivery(self, satisfaction: int | None, feedback: str, now: datetime) -> None:
        self._expect_handover("accept the delivery")
        live = [w for w in self._sorted() if w.status != CANCELLED]
        self._record(
            ev.DeliveryAccepted(
                request_id=self.id,
                client_id=self.client_id,
                account_manager=self.account_manager,
                satisfaction=satisfaction,
                feedback=feedback,
                departments=tuple(sorted({w.department for w in live})),
                handover_round=self.handover_round,
                accepted_at=now,
                handover=ACCEPTED_BY_CLIENT,
            )
        )

    def reject_delivery(self, rework: Sequence[ev.ReworkItem], feedback: str) -> None:
        self._expect_handover("ask for rework")
        if not rework:
            raise DomainRuleViolation("a rejection needs at least one rework item for a department")
        completed = {w.department for w in self.work_orders.values() if w.status == COMPLETED}
        unknown = sorted({item.department for item in rework} - completed)
        if unknown:
            raise DomainRuleViolation(
                f"no completed work for {', '.join(unknown)} on this request "
                f"(departments: {', '.join(sorted(completed)) or 'none'})"
            )
        unpriced = sorted({item.department for item in rework if item.paid_by == "client" and not item.currency})
        if unpriced:
            raise DomainRuleViolation(
                f"rework the client pays for needs its amount and currency ({', '.join(unpriced)})"
            )
        round_ = self.handover_round
        self._record(
            ev.DeliveryRejected(
                request_id=self.id,
                client_id=self.client_id,
                handover_round=round_,
                feedback=feedback,
                rework=tuple(rework),
                handover=REWORK,
            )
        )
        for item in rework:
            for wo in self._sorted():
                if wo.department == item.department and wo.status == COMPLETED:
                    self._record(
                        ev.WorkOrderReopened(**self._ids(wo), rework_round=round_, description=item.description)
                    )

    # --- helpers ----------------------------------------------------------------

    def _sorted(self) -> list[WorkOrder]:
        return sorted(self.work_orders.values(), key=lambda w: (w.department, w.work_order_id))

    def _ids(self, wo: WorkOrder) -> dict:
        return {
            "request_id": self.id,
            "client_id": self.client_id,
            "work_order_id": wo.work_order_id,
            "department": wo.department,
        }

    def _expect(self, work_order_id: str, allowed: set[str], action: str) -> WorkOrder:
        wo = self.work_orders.get(work_order_id)
        if wo is None:
            raise NotFound(f"work order {work_order_id} not found")
        if wo.status not in allowed:
            raise DomainRuleViolation(
                f"cannot {action} work order {work_order_id}: it is {wo.status.replace('_', ' ')}"
                f" (allowed from: {', '.join(sorted(s.replace('_', ' ') for s in allowed))})"
            )
        return wo

    def _expect_handover(self, action: str) -> None:
        if self.handover != READY:
            raise DomainRuleViolation(
                f"cannot {action}: request {self.id} is {self.handover.replace('_', ' ')}, not ready for handover"
            )

    # --- state --------------------------------------------------------------------

    def _on_WorkOrderOpened(self, e: ev.WorkOrderOpened) -> None:
        self.client_id = e.client_id
        self.account_manager = e.account_manager
        self.work_orders[e.work_order_id] = WorkOrder(e.work_order_id, e.department, e.scope, e.due_by)
        self.handover = ev.handover_after(self.handover, e)

    def _on_WorkOrderAccepted(self, e: ev.WorkOrderAccepted) -> None:
        wo = self.work_orders[e.work_order_id]
        wo.status, wo.member = ACCEPTED, e.member

    def _on_WorkOrderStarted(self, e: ev.WorkOrderStarted) -> None:
        self.work_orders[e.work_order_id].status = IN_PROGRESS

    def _on_WorkOrderBlocked(self, e: ev.WorkOrderBlocked) -> None:
        wo = self.work_orders[e.work_order_id]
        wo.status_before_block, wo.status, wo.blocked_since = wo.status, BLOCKED, e.blocked_at

    def _on_WorkOrderUnblocked(self, e: ev.WorkOrderUnblocked) -> None:
        wo = self.work_orders[e.work_order_id]
        wo.status, wo.blocked_since = wo.status_before_block or IN_PROGRESS, None

    def _on_WorkOrderCompleted(self, e: ev.WorkOrderCompleted) -> None:
        self.work_orders[e.work_order_id].status = COMPLETED

    def _on_WorkOrderReopened(self, e: ev.WorkOrderReopened) -> None:
        self.work_orders[e.work_order_id].status = REOPENED

    def _on_WorkOrderCancelled(self, e: ev.WorkOrderCancelled) -> None:
        self.work_orders[e.work_order_id].status = CANCELLED

    def _on_ChangeAttached(self, e: ev.ChangeAttached) -> None:
        self.work_orders[e.work_order_id].change_ids.add(e.change_id)

    def _on_WorkOrderOverdue(self, e: ev.WorkOrderOverdue) -> None:
        self.work_orders[e.work_order_id].overdue = True

    def _on_RequestReadyForHandover(self, e: ev.RequestReadyForHandover) -> None:
        self.handover, self.handover_round = ev.handover_after(self.handover, e), e.handover_round

    def _on_DeliveryAccepted(self, e: ev.DeliveryAccepted) -> None:
        self.handover = ev.handover_after(self.handover, e)

    def _on_DeliveryRejected(self, e: ev.DeliveryRejected) -> None:
        self.handover = ev.handover_after(self.handover, e)
