"""Events published by the delivery service (stream DELIVERY, subjects ``delivery.>``).

Delivery's aggregate is the delivery of one client request
(``delivery.request.<request_id>.<EventType>``): its work orders, one per
department handoff (the work order id is intake's handoff id), the handover to
the client and the client's verdict. Every payload carries ``request_id`` and
``client_id``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from baton_shared.events.envelope import DomainEvent
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()  # delivery's contracts; ``contracts.registry`` knows them all


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
    "A department received work from a handoff; the work order is open."

    event_type = "WorkOrderOpened"

    scope: str
    due_by: date
    account_manager: str
    handoff_event_id: str


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
    "Every live work order of the request is complete: hand the result to the client."

    event_type = "RequestReadyForHandover"

    handover_round: int
    work_order_ids: tuple[str, ...]


@registry.register
class DeliveryAccepted(DeliveryEvent):
    "The client accepted the delivery (follow-up reacts to this)."

    event_type = "DeliveryAccepted"

    account_manager: str
    satisfaction: int | None = None
    feedback: str = ""
    departments: tuple[str, ...]
    handover_round: int
    accepted_at: datetime


@registry.register
class DeliveryRejected(DeliveryEvent):
    """The client asked for corrections; the named departments' work orders reopen.

    v2: each rework item says who pays and how much (``ReworkItem``); v1 items read as ours, unpriced."""

    event_type = "DeliveryRejected"
    schema_version = 2

    handover_round: int
    feedback: str = ""
    rework: tuple[ReworkItem, ...]


@registry.upcaster("DeliveryRejected", 1)
def _delivery_rejected_v1_to_v2(payload: dict) -> dict:
    rework = [dict(item, paid_by="us", amount=None, currency=None) for item in payload.get("rework", [])]
    return dict(payload, rework=rework)
