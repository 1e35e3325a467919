"""Events published by the delivery service (stream DELIVERY, subjects ``delivery.>``).

Delivery's aggregate is the delivery of one client request
(``delivery.request.<request_id>.<EventType>``): its work orders, one per
department handoff (the work order id is intake's handoff id), the handover to
the client and the client's verdict. Every payload carries ``request_id`` and
``client_id``.

The request's handover state is delivery's to decide and is published on the events
that move it (``handover``, v2 of the four below); consumers copy it with
:func:`handover_after` instead of deriving it again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from baton_shared.events.envelope import DomainEvent
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()  # delivery's contracts; ``contracts.registry`` knows them all


# The request's handover states.
IN_DELIVERY, READY_FOR_HANDOVER, ACCEPTED, REWORK = "in_delivery", "ready_for_handover", "accepted", "rework"
HandoverState = Literal["in_delivery", "ready_for_handover", "accepted", "rework"]


class DeliveryEvent(DomainEvent):
    service = "delivery"
    aggregate_type = "request"

    request_id: str
    client_id: str


class WorkOrderEvent(DeliveryEvent):
    work_order_id: str
    department: str


class ReworkItem(BaseModel):
    """One correction a department owes, and who pays for it: ``us`` (our cost, the default) or the
    ``client`` (billed; an amount and currency then). ``amount`` is None when nobody priced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    description: str
    paid_by: Literal["client", "us"] = "us"
    amount: Decimal | None = None
    currency: str | None = None


@registry.register
class WorkOrderOpened(WorkOrderEvent):
    """A department received work from a handoff; the work order is open.

    v2: ``handover``, the request's handover state after the new work (new work while
    ready for handover puts the request back in delivery); None on v1 events."""

    event_type = "WorkOrderOpened"
    schema_version = 2

    scope: str
    due_by: date
    account_manager: str
    handoff_event_id: str
    handover: HandoverState | None = None


@registry.register
class WorkOrderAccepted(WorkOrderEvent):
    "A named member of the department accepted the work."

    event_type = "WorkOrderAccepted"

    member: str


@registry.register
class WorkOrderStarted(WorkOrderEvent):
    "Work began (or began again after rework)."

    event_type = "WorkOrderStarted"


@registry.register
class WorkOrderProgressed(WorkOrderEvent):
    "A progress note, with an optional percentage done."

    event_type = "WorkOrderProgressed"

    note: str
    percent: int | None = None


@registry.register
class WorkOrderBlocked(WorkOrderEvent):
    "The department cannot go on, and says why."

    event_type = "WorkOrderBlocked"

    reason: str
    blocked_at: datetime


@registry.register
class WorkOrderUnblocked(WorkOrderEvent):
    "The block is lifted; the time spent blocked is recorded."

    event_type = "WorkOrderUnblocked"

    unblocked_at: datetime
    blocked_seconds: float


@registry.register
class WorkOrderCompleted(WorkOrderEvent):
    "The department finished its work."

    event_type = "WorkOrderCompleted"

    note: str = ""
    completed_at: datetime


@registry.register
class WorkOrderReopened(WorkOrderEvent):
    "The client asked for corrections: the work order is open again for a rework round."

    event_type = "WorkOrderReopened"

    rework_round: int
    description: str


@registry.register
class WorkOrderCancelled(WorkOrderEvent):
    "The request was cancelled; this work order stops."

    event_type = "WorkOrderCancelled"

    reason: str


@registry.register
class ChangeAttached(WorkOrderEvent):
    "A client's change request reached this work order."

    event_type = "ChangeAttached"

    change_id: str
    description: str
    requested_by: str
    requested_at: datetime


@registry.register
class WorkOrderOverdue(WorkOrderEvent):
    "The work order passed its due date unfinished (recorded once)."

    event_type = "WorkOrderOverdue"

    due_by: date
    detected_on: date
    account_manager: str


@registry.register
class RequestReadyForHandover(DeliveryEvent):
    """Every live work order of the request is complete: hand the result to the client.

    v2: ``handover`` (ready for handover), the state it moves the request to."""

    event_type = "RequestReadyForHandover"
    schema_version = 2

    handover_round: int
    work_order_ids: tuple[str, ...]
    handover: HandoverState = READY_FOR_HANDOVER


@registry.register
class DeliveryAccepted(DeliveryEvent):
    """The client accepted the delivery (follow-up reacts to this).

    v2: ``handover`` (accepted), the state it moves the request to."""

    event_type = "DeliveryAccepted"
    schema_version = 2

    account_manager: str
    satisfaction: int | None = None
    feedback: str = ""
    departments: tuple[str, ...]
    handover_round: int
    accepted_at: datetime
    handover: HandoverState = ACCEPTED


@registry.register
class DeliveryRejected(DeliveryEvent):
    """The client asked for corrections; the named departments' work orders reopen.

    v2: ``handover`` (rework), the state it moves the request to, and each rework item says who
    pays and how much (``ReworkItem``); v1 items read as ours, unpriced."""

    event_type = "DeliveryRejected"
    schema_version = 2

    handover_round: int
    feedback: str = ""
    rework: tuple[ReworkItem, ...]
    handover: HandoverState = REWORK


# v1 events were stored before delivery published the state. Three of them moved it to
# one state whatever came before; a v1 WorkOrderOpened's effect depends on the state
# before it, which handover_after applies.
@registry.upcaster("WorkOrderOpened", 1)
def _work_order_opened_v1_to_v2(payload: dict) -> dict:
    return {**payload, "handover": None}


@registry.upcaster("RequestReadyForHandover", 1)
def _ready_v1_to_v2(payload: dict) -> dict:
    return {**payload, "handover": READY_FOR_HANDOVER}


@registry.upcaster("DeliveryAccepted", 1)
def _accepted_v1_to_v2(payload: dict) -> dict:
    return {**payload, "handover": ACCEPTED}


@registry.upcaster("DeliveryRejected", 1)
def _rejected_v1_to_v2(payload: dict) -> dict:
    rework = [dict(item, paid_by="us", amount=None, currency=None) for item in payload.get("rework", [])]
    return {**payload, "rework": rework, "handover": REWORK}


def handover_after(state: str, event: DomainEvent) -> str:
    """The request's handover state after ``event``, given the state before it: the state
    delivery published on the event, else (events that do not move it, and v1
    WorkOrderOpened) the state before, except that new work while ready for handover
    put the request back in delivery."""
    published = getattr(event, "handover", None)
    if published is not None:
        return published
    if isinstance(event, WorkOrderOpened) and state == READY_FOR_HANDOVER:  # stored before v2
        return IN_DELIVERY
    return state


_STATUS_AFTER = {
    WorkOrderOpened: "opened",
    WorkOrderAccepted: "accepted",
    WorkOrderStarted: "in_progress",
    WorkOrderBlocked: "blocked",
    WorkOrderCompleted: "completed",
    WorkOrderReopened: "reopened",
    WorkOrderCancelled: "cancelled",
}


def work_orders_after(orders: dict, event: WorkOrderEvent) -> dict:
    """Another service's summary of a request's work orders (id -> department, status, due_by,
    scope, member, percent, overdue) after ``event``: one fold for every consumer, so their
    views cannot drift. Unblocking returns to the status before the block."""
    order = dict(
        orders.get(event.work_order_id, {"department": event.department, "status": "opened", "overdue": False})
    )
    if isinstance(event, WorkOrderOpened):
        order.update(due_by=event.due_by.isoformat(), scope=event.scope)
    if isinstance(event, WorkOrderBlocked):
        order["before_block"] = order["status"]
    if type(event) in _STATUS_AFTER:
        order["status"] = _STATUS_AFTER[type(event)]
    if isinstance(event, WorkOrderUnblocked):
        order["status"] = order.pop("before_block", None) or "in_progress"
    if isinstance(event, WorkOrderAccepted):
        order["member"] = event.member
    if isinstance(event, WorkOrderProgressed) and event.percent is not None:
        order["percent"] = event.percent
    if isinstance(event, WorkOrderCompleted):
        order["percent"] = 100
    if isinstance(event, WorkOrderOverdue):
        order["overdue"] = True
    return {**orders, event.work_order_id: order}


def acceptance_of(event: DeliveryAccepted) -> dict:
    """The client's verdict as the request views keep it."""
    return {
        "satisfaction": event.satisfaction,
        "feedback": event.feedback,
        "accepted_at": event.accepted_at.isoformat(),
        "handover_round": event.handover_round,
    }
