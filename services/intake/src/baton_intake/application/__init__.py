from baton_intake.application.commands import (
    AddClientNote,
    AssignAccountManager,
    CancelRequest,
    CaptureNeed,
    ChangeRevenue,
    ForgetClient,
    GroupUnderParent,
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
    "ForgetClient",
    "GroupUnderParent",
    "IntakeApplication",
    "RecordClarification",
    "RegisterClient",
    "RequestChange",
    "RequestHandoff",
    "SetContactPolicy",
    "Written",
]
