"""Follow-up's application layer: commands in, events appended."""

from baton_followup.application.commands import (
    AcknowledgeBrief,
    CancelProgram,
    CloseRecovery,
    FlagAtRisk,
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
from baton_followup.application.followup import Clock, FollowupApplication, Policies, at_risk_id, reactivation_id, utc_now

__all__ = [
    "AcknowledgeBrief",
    "CancelProgram",
    "CloseRecovery",
    "FlagAtRisk",
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
    "at_risk_id",
    "reactivation_id",
    "utc_now",
]
