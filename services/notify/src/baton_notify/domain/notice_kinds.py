"""The kinds of notice a person receives, each of which they may turn off."""

from __future__ import annotations

import uuid

WORK_ORDER_OPENED = "work_order_opened"
CHANGE_REACHED = "change_reached"
WORK_OVERDUE = "work_overdue"
WORK_BLOCKED = "work_blocked"
READY_FOR_HANDOVER = "ready_for_handover"
RECOVERY_DUE = "recovery_due"
COMPLAINT_DUE = "complaint_due"
AGENDA_DIGEST = "agenda_digest"

KINDS: dict[str, str] = {
    WORK_ORDER_OPENED: "a work order opens for your department",
    CHANGE_REACHED: "a client's change reaches your department's work order",
    WORK_OVERDUE: "your client's work is overdue",
    WORK_BLOCKED: "your client's work is blocked",
    READY_FOR_HANDOVER: "your client's delivery is ready for handover",
    RECOVERY_DUE: "a recovery is opened for your client, with its due date",
    COMPLAINT_DUE: "a complaint is opened for your client, or one of its deadlines is missed",
    AGENDA_DIGEST: "each morning, your agenda: what is due today or overdue",
}

_PEOPLE = uuid.UUID("6f1c8a52-3c1e-4f0e-9a57-6a3e2b1d9c40")


def person_id(name: str) -> str:
    """A person's aggregate id: their name, as a UUID (names are not subject tokens)."""
    return str(uuid.uuid5(_PEOPLE, name))
