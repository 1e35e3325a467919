"""Events published by the follow-up service (stream FOLLOWUP, subjects ``followup.>``).

Follow-up's aggregate is the relationship with one client
(``followup.client.<client_id>.<EventType>``): its tier and review cadence,
the follow-ups scheduled for it, every contact made or refused, satisfaction,
opportunities and programs. Every payload carries ``client_id``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from baton_shared.contracts.intake import Channel, ContactPolicy
from baton_shared.events.envelope import DomainEvent
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()  # followup's contracts; ``contracts.registry`` knows them all

Tier = Literal["key", "standard"]
FollowUpKind = Literal[
    "satisfaction",
    "review",
    "reactivation",
    "offer",
    "introduction",
    "outcome_review",
    "program_notice",
    "program_renewal",
    "recovery",
    "at_risk",
]
ContactOutcome = Literal["reached", "no_answer", "left_message", "stop"]
RefusalCode = Literal[
    "do_not_contact", "stopped", "frequency_cap", "cool_down", "channel", "recovery_in_progress", "managed_elsewhere"
]
RecoveryCause = Literal["low_satisfaction", "delivery_rejected"]
DeliveredValue = Literal["more_than_promised", "as_promised", "less_than_promised", "nothing"]


class FollowupEvent(DomainEvent):
    service = "followup"
    aggregate_type = "client"

    client_id: str


@registry.register
class RelationshipStarted(FollowupEvent):
    "Follow-up took the client on: who looks after them and how they may be contacted."

    event_type = "RelationshipStarted"

    client_name: str
    account_manager: str
    contact_policy: ContactPolicy = ContactPolicy()
    annual_revenue: Decimal | None = None
    contact_group: str | None = None  # the group whose contact policy holds too (intake's ClientRegistered)


@registry.register
class ManagementDelegated(FollowupEvent):
    "Someone else (an agency, another team) manages the account: no outreach from us. ``None`` takes it back."

    event_type = "ManagementDelegated"

    managed_by: str | None
    by: str


@registry.register
class RelationshipGrouped(FollowupEvent):
    "The account joined a parent organisation's contact group (intake's ClientGrouped)."

    event_type = "RelationshipGrouped"

    group_id: str
    parent_organisation: str


class ContactGroupEvent(DomainEvent):
    """A contact group's event (``followup.contact_group.<group_id>``); ``client_id`` is the
    account it is about. Not a client's event, so the client projections leave it alone."""

    service = "followup"
    aggregate_type = "contact_group"

    group_id: str
    client_id: str


@registry.register
class ContactGroupJoined(ContactGroupEvent):
    """An account joined a contact group (one person behind several accounts, or a parent
    organisation): contacts of every account of the group are decided together."""

    event_type = "ContactGroupJoined"


@registry.register
class GroupContactTaken(ContactGroupEvent):
    """A contact slot of the group taken by one of its accounts (``client_id``): appended with
    the group's version, so two accounts racing for the last slot cannot both take it."""

    event_type = "GroupContactTaken"

    contact_id: str
    account_manager: str
    taken_at: datetime


@registry.register
class ClientTiered(FollowupEvent):
    "The client's tier and review cadence, from their annual revenue among all clients."

    event_type = "ClientTiered"

    tier: Tier
    review_every_days: int
    annual_revenue: Decimal | None
    reason: str


@registry.register
class ContactPolicyAdopted(FollowupEvent):
    "The client's contact policy changed in intake; an earlier 'stop' no longer holds."

    event_type = "ContactPolicyAdopted"

    contact_policy: ContactPolicy


@registry.register
class HandoverBriefPrepared(FollowupEvent):
    "A new account manager took over; the brief tells them what the client should not have to repeat."

    event_type = "HandoverBriefPrepared"

    brief_id: str
    account_manager: str
    previous_account_manager: str | None
    brief: dict[str, Any]


@registry.register
class HandoverBriefAcknowledged(FollowupEvent):
    """The new account manager opened the handover brief (``read``) or confirmed having read it
    (``confirmed``); recorded once per brief, so the head can see who took over without reading."""

    event_type = "HandoverBriefAcknowledged"

    brief_id: str
    account_manager: str
    how: Literal["read", "confirmed"]
    acknowledged_at: datetime
    by: str


@registry.register
class FollowUpScheduled(FollowupEvent):
    "Something to do for the client, due on a date (recorded once: its id is derived from its cause)."

    event_type = "FollowUpScheduled"

    follow_up_id: str
    kind: FollowUpKind
    due_on: date
    reason: str
    request_id: str | None = None
    opportunity_id: str | None = None
    program_id: str | None = None
    brief_id: str | None = None


@registry.register
class FollowUpRescheduled(FollowupEvent):
    "A follow-up moved to another date (a tighter cadence, for instance)."

    event_type = "FollowUpRescheduled"

    follow_up_id: str
    due_on: date
    reason: str


@registry.register
class FollowUpClosed(FollowupEvent):
    "A follow-up no longer needs doing (its opportunity was settled, its program ended…)."

    event_type = "FollowUpClosed"

    follow_up_id: str
    reason: str


@registry.register
class ContactRecorded(FollowupEvent):
    "An outbound contact with the client, and what came of it."

    event_type = "ContactRecorded"

    contact_id: str
    follow_up_id: str | None
    opportunity_id: str | None = None
    channel: Channel
    outcome: ContactOutcome
    note: str = ""
    contacted_at: datetime
    by: str


@registry.register
class ContactSuppressed(FollowupEvent):
    "A contact the client's policy refused: recorded, never made."

    event_type = "ContactSuppressed"

    follow_up_id: str | None
    opportunity_id: str | None = None
    channel: Channel | None
    code: RefusalCode
    reason: str
    suppressed_at: datetime
    by: str


@registry.register
class SatisfactionRecorded(FollowupEvent):
    "How satisfied the client said they were (1 to 5)."

    event_type = "SatisfactionRecorded"

    score: int
    comment: str = ""
    request_id: str | None = None
    recorded_at: datetime
    by: str


@registry.register
class OpportunityIdentified(FollowupEvent):
    "What the client will probably need next, and why (from the catalogue of next needs)."

    event_type = "OpportunityIdentified"

    opportunity_id: str
    kind: str
    title: str
    reason: str
    rule_id: str
    request_id: str | None = None


@registry.register
class OpportunityOffered(FollowupEvent):
    event_type = "OpportunityOffered"

    opportunity_id: str
    kind: str
    channel: Channel
    offered_at: datetime
    by: str


@registry.register
class OpportunityValued(FollowupEvent):
    "What the opportunity is estimated to be worth to us; a later estimate replaces an earlier one."

    event_type = "OpportunityValued"

    opportunity_id: str
    kind: str
    estimated_value: Decimal
    currency: str
    valued_at: datetime
    by: str


@registry.register
class OpportunityDeclined(FollowupEvent):
    "The client said no; no offer of this kind before ``cool_down_until``."

    event_type = "OpportunityDeclined"

    opportunity_id: str
    kind: str
    reason: str
    declined_at: datetime
    cool_down_until: date


@registry.register
class OpportunityWon(FollowupEvent):
    """The client said yes: intake opens a new request for it (id derived from the opportunity).

    v2: ``agreed_value`` and its ``currency``, what the client agreed to pay (None: not said)."""

    event_type = "OpportunityWon"
    schema_version = 2

    opportunity_id: str
    kind: str
    title: str
    need_summary: str
    note: str = ""
    account_manager: str
    won_at: datetime
    outcome_review_on: date
    agreed_value: Decimal | None = None
    currency: str | None = None


@registry.upcaster("OpportunityWon", 1)
def _opportunity_won_v1_to_v2(payload: dict) -> dict:
    return dict(payload, agreed_value=None, currency=None)  # v1: no value was agreed in Baton


@registry.register
class OpportunityOutcomeReviewed(FollowupEvent):
    """Did what was sold deliver what was promised for the client? Kept with the client's history.

    v2: ``realised_value``, what the sale brought in, in the agreed value's ``currency``
    (None: not said), to compare with the value agreed when won."""

    event_type = "OpportunityOutcomeReviewed"
    schema_version = 2

    opportunity_id: str
    delivered_value: DeliveredValue
    note: str = ""
    reviewed_at: datetime
    by: str
    realised_value: Decimal | None = None
    currency: str | None = None


@registry.upcaster("OpportunityOutcomeReviewed", 1)
def _outcome_reviewed_v1_to_v2(payload: dict) -> dict:
    return dict(payload, realised_value=None, currency=None)


@registry.register
class ProgramEnrolled(FollowupEvent):
    "The client joined a paid program with commitment terms; the dates are computed once, here."

    event_type = "ProgramEnrolled"

    program_id: str
    name: str
    starts_on: date
    minimum_term_months: int
    total_term_months: int
    notice_days: int
    minimum_term_ends_on: date
    ends_on: date
    notice_deadline: date
    trailing_12_month_revenue: Decimal
    monthly_fee: Decimal
    currency: str


@registry.register
class ProgramCancelled(FollowupEvent):
    "Notice given after the minimum term; the program ends on ``effective_on``."

    event_type = "ProgramCancelled"

    program_id: str
    requested_on: date
    effective_on: date
    reason: str


@registry.register
class RecoveryOpened(FollowupEvent):
    """An unhappy client (satisfaction 1-2, or a rejected delivery): the account manager recovers the
    relationship before anything is sold; offers are refused until the recovery closes. Its
    follow-up (same id, kind ``recovery``) is scheduled with it."""

    event_type = "RecoveryOpened"

    recovery_id: str
    cause: RecoveryCause
    reason: str
    feedback: str = ""
    score: int | None = None
    request_id: str | None = None
    due_on: date
    opened_at: datetime


@registry.register
class RecoveryClosed(FollowupEvent):
    "The account manager closed the recovery: what was done and what the client answered. Held offers go ahead."

    event_type = "RecoveryClosed"

    recovery_id: str
    actions_taken: str
    client_answer: str
    closed_at: datetime
    by: str


@registry.register
class ProgramEnded(FollowupEvent):
    """The provider ended the program on ``ended_on`` (the client's notice is ProgramCancelled);
    with ``switched_to``, the client moved to that program, enrolled in the same append."""

    event_type = "ProgramEnded"

    program_id: str
    ended_on: date
    reason: str
    by: str
    switched_to: str | None = None


# --- complaints (issue 20): a case per complaint, in the client's relationship ----------------

ComplaintCategory = Literal["delivery_quality", "delay", "billing", "contact", "client_account", "other"]
ComplaintSeverity = Literal["low", "medium", "high"]
ComplaintDeadline = Literal["first_response", "resolution"]


@registry.register
class ComplaintOpened(FollowupEvent):
    """A complaint (or issue) case: deadlines for the first response and the resolution,
    computed once here from the client's tier (``respond_by``, ``resolve_by``)."""

    event_type = "ComplaintOpened"

    complaint_id: str
    category: ComplaintCategory
    severity: ComplaintSeverity
    description: str
    request_id: str | None = None
    work_order_id: str | None = None
    program_id: str | None = None
    tier: str
    account_manager: str
    opened_at: datetime
    respond_by: datetime
    resolve_by: datetime
    by: str


@registry.register
class ComplaintAcknowledged(FollowupEvent):
    "The first response to the client."

    event_type = "ComplaintAcknowledged"

    complaint_id: str
    response: str
    acknowledged_at: datetime
    by: str


@registry.register
class ComplaintAssigned(FollowupEvent):
    "A department works on it (it shows on the department's complaints board)."

    event_type = "ComplaintAssigned"

    complaint_id: str
    department: str
    assigned_at: datetime
    by: str


@registry.register
class ComplaintResolved(FollowupEvent):
    event_type = "ComplaintResolved"

    complaint_id: str
    resolution: str
    root_cause: str
    resolved_at: datetime
    by: str


@registry.register
class ComplaintConfirmed(FollowupEvent):
    "The client confirmed the resolution: the case is closed."

    event_type = "ComplaintConfirmed"

    complaint_id: str
    confirmed_at: datetime
    by: str


@registry.register
class ComplaintReopened(FollowupEvent):
    "The client did not accept the resolution: a new resolution deadline (``resolve_by``), round ``round``."

    event_type = "ComplaintReopened"

    complaint_id: str
    reason: str
    reopened_at: datetime
    resolve_by: datetime
    round: int
    by: str


@registry.register
class ComplaintDeadlineBreached(FollowupEvent):
    """A deadline passed (recorded once per deadline and round, derived event id) and the case
    escalated: a missed first response to the account manager, a missed resolution to ``escalated_to_role``."""

    event_type = "ComplaintDeadlineBreached"

    complaint_id: str
    deadline: ComplaintDeadline
    round: int
    due_at: datetime
    detected_at: datetime
    escalated_to_role: str
    escalated_to: str | None = None


@registry.register
class WorkConcernChanged(FollowupEvent):
    """A work order for the client became, or stopped being, overdue or blocked in delivery
    (recorded only when that changes): the client's health counts what is late or stuck."""

    event_type = "WorkConcernChanged"

    work_order_id: str
    request_id: str
    department: str
    overdue: bool
    blocked: bool
    noted_at: datetime


@registry.register
class ReviewOverdue(FollowupEvent):
    "A review passed its due date undone (recorded once per due date, derived event id)."

    event_type = "ReviewOverdue"

    follow_up_id: str
    due_on: date
    detected_on: date
