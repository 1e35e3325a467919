"""Follow-up's application layer: commands in, events appended."""

from baton_followup.application.commands import (
    AcknowledgeBrief,
    CancelProgram,
    DeclineOpportunity,
    DelegateManagement,
    EnrolInProgram,
    OfferOpportunity,
    RecordContact,
    RecordSatisfaction,
    ReviewOutcome,
    ScheduleReactivation,
    SetTier,
    WinOpportunity,
)
from baton_followup.application.followup import Clock, FollowupApplication, Policies, reactivation_id, utc_now

__all__ = [
    "AcknowledgeBrief",
    "CancelProgram",
    "Clock",
    "DeclineOpportunity",
    "DelegateManagement",
    "EnrolInProgram",
    "FollowupApplication",
    "OfferOpportunity",
    "Policies",
    "RecordContact",
    "RecordSatisfaction",
    "ReviewOutcome",
    "ScheduleReactivation",
    "SetTier",
    "WinOpportunity",
    "reactivation_id",
    "utc_now",
]
