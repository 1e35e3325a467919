"""What a notice says: its kind, who it goes to and its words, decided from the cause alone
(and the client's name and manager, which the caller looks up). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from baton_shared.contracts import delivery as d
from baton_shared.contracts import followup as f
from baton_shared.events.envelope import DomainEvent

from baton_notify.domain import notice_kinds as k


@dataclass(frozen=True)
class Telling:
    """Who a cause concerns: a department's members, or one client's account manager."""

    kind: str
    department: str | None  # every member of it
    account_manager: str | None  # this person (None: the client's, looked up)
    escalated_to_role: str | None = None  # and everyone with this role


def concerns(event: DomainEvent) -> Telling | None:
    """Whom the cause concerns, or None for a cause no notice is about."""
    if isinstance(event, d.WorkOrderOpened):
        return Telling(k.WORK_ORDER_OPENED, event.department, None)
    if isinstance(event, d.ChangeAttached):
        return Telling(k.CHANGE_REACHED, event.department, None)
    if isinstance(event, d.WorkOrderOverdue):
        return Telling(k.WORK_OVERDUE, None, event.account_manager)
    if isinstance(event, d.WorkOrderBlocked):
        return Telling(k.WORK_BLOCKED, None, None)
    if isinstance(event, d.RequestReadyForHandover):
        return Telling(k.READY_FOR_HANDOVER, None, None)
    if isinstance(event, f.RecoveryOpened):
        return Telling(k.RECOVERY_DUE, None, None)
    if isinstance(event, f.ComplaintOpened):
        return Telling(k.COMPLAINT_DUE, None, event.account_manager)
    if isinstance(event, f.ComplaintDeadlineBreached):
        role = None if event.escalated_to_role == "account_manager" else event.escalated_to_role
        return Telling(k.COMPLAINT_DUE, None, event.escalated_to, role)
    return None


def words(event: DomainEvent, client: str, console_url: str | None) -> tuple[str, str]:
    """(subject, body) of the notice about ``event``; ``client`` names the client."""
    link = (lambda path: f"\n\n{console_url.rstrip('/')}{path}\n") if console_url else (lambda path: "\n")
    if isinstance(event, d.WorkOrderOpened):
        return (
            f"New work order for {event.department}: {client}, due {event.due_by}",
            f"A work order opened for {event.department}.\n\nClient: {client}\nScope: {event.scope}\n"
            f"Due by: {event.due_by}\nAccount manager: {event.account_manager}"
            + link(f"/work-orders/{event.work_order_id}"),
        )
    if isinstance(event, d.ChangeAttached):
        return (
            f"A change from {client} reached {event.department}'s work order",
            f"{event.requested_by} asked for a change on {client}'s work order.\n\nChange: {event.description}"
            + link(f"/work-orders/{event.work_order_id}"),
        )
    if isinstance(event, d.WorkOrderOverdue):
        return (
            f"Overdue: {client}'s work in {event.department} (due {event.due_by})",
            f"{client}'s work order in {event.department} was due by {event.due_by} and is not completed."
            + link(f"/work-orders/{event.work_order_id}"),
        )
    if isinstance(event, d.WorkOrderBlocked):
        return (
            f"Blocked: {client}'s work in {event.department}",
            f"{client}'s work order in {event.department} is blocked.\n\nWhy: {event.reason}"
            + link(f"/work-orders/{event.work_order_id}"),
        )
    if isinstance(event, d.RequestReadyForHandover):
        return (
            f"Ready for handover: {client}'s delivery",
            f"Every department finished {client}'s request (round {event.handover_round}): hand it over to the client."
            + link(f"/requests/{event.request_id}"),
        )
    if isinstance(event, f.RecoveryOpened):
        return (
            f"Recovery due by {event.due_on}: {client}",
            f"A recovery opened for {client} ({event.cause}).\n\nWhy: {event.reason}\nDue on: {event.due_on}"
            + link(f"/clients/{event.client_id}"),
        )
    if isinstance(event, f.ComplaintOpened):
        return (
            f"Complaint from {client}: respond by {event.respond_by:%Y-%m-%d %H:%M} UTC",
            f"A {event.severity} complaint ({event.category}) opened for {client}.\n\n{event.description}\n\n"
            f"Respond by: {event.respond_by:%Y-%m-%d %H:%M} UTC\nResolve by: {event.resolve_by:%Y-%m-%d %H:%M} UTC"
            + link(f"/clients/{event.client_id}"),
        )
    if isinstance(event, f.ComplaintDeadlineBreached):
        what = "first response" if event.deadline == "first_response" else "resolution"
        return (
            f"Missed: the {what} of {client}'s complaint",
            f"The {what} of {client}'s complaint was due at {event.due_at:%Y-%m-%d %H:%M} UTC and did not happen."
            + link(f"/clients/{event.client_id}"),
        )
    raise ValueError(f"no notice words for {type(event).__name__}")


def digest(manager: str, today: date, items: list[dict], console_url: str | None) -> tuple[str, str]:
    """The morning digest: what the manager's clients have due today or overdue."""
    lines = [f"Good morning {manager}. Due today or before ({today}):", ""]
    for item in items:
        late = "" if item["due_on"] >= today else f" (overdue since {item['due_on']})"
        lines.append(f"- {item['client_name']}: {item['what']}: {item['reason']}{late}")
    if console_url:
        lines += ["", f"{console_url.rstrip('/')}/agenda"]
    return f"Your agenda for {today}: {len(items)} due", "\n".join(lines) + "\n"
