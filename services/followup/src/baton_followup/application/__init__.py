"""Follow-up's application layer: commands in, events appended."""

from baton_followup.application.commands import (
    CancelProgram,
    DeclineOpportunity,
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
    "CancelProgram",
    "Clock",
    "DeclineOpportunity",
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
