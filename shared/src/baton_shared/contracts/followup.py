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
from baton_shared.contracts.registry import registry
from baton_shared.events.envelope import DomainEvent

Tier = Literal["key", "standard"]
FollowUpKind = Literal[
    "satisfaction", "review", "reactivation", "offer", "introduction", "outcome_review", "program_notice", "program_renewal"
]
ContactOutcome = Literal["reached", "no_answer", "left_message", "stop"]
RefusalCode = Literal["do_not_contact", "stopped", "frequency_cap", "cool_down", "channel", "managed_elsewhere"]
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
    "The client said yes: intake opens a new request for it (id derived from the opportunity)."

    event_type = "OpportunityWon"

    opportunity_id: str
    kind: str
    title: str
    need_summary: str
    note: str = ""
    account_manager: str
    won_at: datetime
    outcome_review_on: date


@registry.register
class OpportunityOutcomeReviewed(FollowupEvent):
    "Did what was sold deliver what was promised for the client? Kept with the client's history."

    event_type = "OpportunityOutcomeReviewed"

    opportunity_id: str
    delivered_value: DeliveredValue
    note: str = ""
    reviewed_at: datetime
    by: str


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
