"""Follow-up's commands, in the imperative. Each carries who issued it, why, and its key (``Command``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from baton_shared.application import Command

from baton_followup.domain import Money, ProgramTerms


@dataclass(frozen=True, kw_only=True)
class RecordContact(Command):
    follow_up_id: str
    channel: str
    outcome: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class DelegateManagement(Command):
    """Someone else (an agency, another team) manages the account; ``None`` takes it back."""

    client_id: str
    managed_by: str | None


@dataclass(frozen=True, kw_only=True)
class RecordSatisfaction(Command):
    client_id: str
    score: int
    comment: str = ""
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcknowledgeBrief(Command):
    """The current account manager has the latest handover brief: ``read`` or ``confirmed``."""

    client_id: str
    how: str


@dataclass(frozen=True, kw_only=True)
class OfferOpportunity(Command):
    opportunity_id: str
    channel: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class DeclineOpportunity(Command):
    opportunity_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class WinOpportunity(Command):
    opportunity_id: str
    note: str = ""
    agreed: Money | None = None  # default: the latest estimate


@dataclass(frozen=True, kw_only=True)
class EstimateOpportunity(Command):
    opportunity_id: str
    value: Money


@dataclass(frozen=True, kw_only=True)
class ReviewOutcome(Command):
    opportunity_id: str
    delivered_value: str
    note: str = ""
    realised: Money | None = None


@dataclass(frozen=True, kw_only=True)
class EnrolInProgram(Command):
    client_id: str
    name: str
    starts_on: date | None
    terms: ProgramTerms
    revenue: Decimal | None = None  # trailing 12 months; default: the client's annual revenue


@dataclass(frozen=True, kw_only=True)
class CancelProgram(Command):
    program_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class EndProgram(Command):
    program_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class SwitchProgram(Command):
    program_id: str
    name: str
    terms: ProgramTerms
    reason: str
    revenue: Decimal | None = None  # trailing 12 months; default: the client's annual revenue


@dataclass(frozen=True, kw_only=True)
class SetTier(Command):
    client_id: str
    revenue: Decimal | None
    tier: str
    reason: str
    actor: str = "scheduler:planner"


@dataclass(frozen=True, kw_only=True)
class ScheduleReactivation(Command):
    client_id: str
    quiet_from: datetime
    after_days: int
    actor: str = "scheduler:planner"


@dataclass(frozen=True, kw_only=True)
class CloseRecovery(Command):
    recovery_id: str
    actions_taken: str
    client_answer: str


@dataclass(frozen=True, kw_only=True)
class FlagAtRisk(Command):
    client_id: str
    since: datetime  # when the at-risk spell began: one follow-up per spell
    why: str
    actor: str = "scheduler:planner"


@dataclass(frozen=True, kw_only=True)
class MarkReviewOverdue(Command):
    client_id: str
    follow_up_id: str
    actor: str = "scheduler:planner"


# --- complaints ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenComplaint(Command):
    client_id: str
    category: str
    severity: str
    description: str
    request_id: str | None = None
    work_order_id: str | None = None
    program_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcknowledgeComplaint(Command):
    complaint_id: str
    response: str


@dataclass(frozen=True, kw_only=True)
class AssignComplaint(Command):
    complaint_id: str
    department: str


@dataclass(frozen=True, kw_only=True)
class ResolveComplaint(Command):
    complaint_id: str
    resolution: str
    root_cause: str


@dataclass(frozen=True, kw_only=True)
class ConfirmComplaint(Command):
    complaint_id: str


@dataclass(frozen=True, kw_only=True)
class ReopenComplaint(Command):
    complaint_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordComplaintBreaches(Command):
    client_id: str
    complaint_id: str
    actor: str = "scheduler:complaint-deadlines"
