from baton_intake.application.commands import (
    AddClientNote,
    AssignAccountManager,
    CancelRequest,
    CaptureNeed,
    ChangeRevenue,
    RecordClarification,
    RegisterClient,
    RequestChange,
    RequestHandoff,
    SetContactPolicy,
)
from baton_intake.application.intake import IntakeApplication, Written

__all__ = [
    "AddClientNote",
    "AssignAccountManager",
    "CancelRequest",
    "CaptureNeed",
    "ChangeRevenue",
    "IntakeApplication",
    "RecordClarification",
    "RegisterClient",
    "RequestChange",
    "RequestHandoff",
    "SetContactPolicy",
    "Written",
]
