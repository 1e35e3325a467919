"""Request bodies of follow-up's HTTP API."""

from __future__ import annotations

from typing import Any

from baton_shared.contracts.followup import ContactOutcome, DeliveredValue
from baton_shared.contracts.intake import Channel
from baton_shared.service.http import Day, Timestamp, View
from baton_shared.service.inputs import STRICT, Date, Money, optional_text, text, whole
from pydantic import BaseModel, Field

Text = text(5000)
OptionalText = optional_text(5000)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Body(BaseModel):
    model_config = STRICT


class ContactIn(Body):
    channel: Channel
    outcome: ContactOutcome = Field(description="`stop`: the client asked not to be contacted again")
    note: OptionalText = ""


class SatisfactionIn(Body):
    score: whole(1, 5) = Field(description="1 (very unhappy) to 5 (delighted)")
    comment: OptionalText = ""
    request_id: str | None = Field(None, pattern=UUID_PATTERN, description="the delivery this is about, if one")


class ManagedByIn(Body):
    managed_by: text(200) | None = Field(  # type: ignore[valid-type]
        description="who manages the account instead of us (an agency, another team); null: we do again"
    )


class OfferIn(Body):
    channel: Channel = "phone"
    note: OptionalText = ""


class DeclineIn(Body):
    reason: Text


class WinIn(Body):
    note: OptionalText = ""


class OutcomeIn(Body):
    delivered_value: DeliveredValue = Field(description="did it deliver what was promised for the client?")
    note: OptionalText = ""


class ProgramIn(Body):
    name: text(200)
    starts_on: Date | None = Field(None, description="default: today")
    minimum_term_months: whole(1, 120) = 6
    total_term_months: whole(1, 120) = 12
    notice_days: whole(0, 365) = 30
    trailing_12_month_revenue: Money | None = Field(
        None, description="default: the client's annual revenue as recorded in intake"
    )


class CancelIn(Body):
    reason: Text


# --- what reads answer ---------------------------------------------------------------


class FollowUpOut(View):
    follow_up_id: str
    client_id: str
    kind: str
    due_on: Day
    status: str
    reason: str
    request_id: str | None
    opportunity_id: str | None
    program_id: str | None
    brief_id: str | None
    outcome: str | None
    closed_reason: str | None
    scheduled_at: Timestamp
    updated_at: Timestamp
    version: int


class AgendaItem(FollowUpOut):
    account_manager: str | None
    client_name: str | None
    tier: str | None
    offer_kind: str | None
    offer_title: str | None
    overdue_days: int


class OpportunityOut(View):
    opportunity_id: str
    client_id: str
    kind: str
    title: str
    reason: str
    rule_id: str
    request_id: str | None
    status: str
    identified_at: Timestamp
    offered_at: Timestamp | None
    declined_reason: str | None
    cool_down_until: Day | None
    won_at: Timestamp | None
    outcome_review_on: Day | None
    delivered_value: str | None
    outcome_note: str | None
    reviewed_at: Timestamp | None
    updated_at: Timestamp
    version: int


class ProgramOut(View):
    program_id: str
    client_id: str
    name: str
    status: str
    starts_on: Day
    minimum_term_months: int
    total_term_months: int
    notice_days: int
    minimum_term_ends_on: Day
    ends_on: Day
    notice_deadline: Day
    trailing_12_month_revenue: str
    monthly_fee: str
    currency: str
    cancellation_requested_on: Day | None
    cancellation_effective_on: Day | None
    cancellation_reason: str | None
    updated_at: Timestamp
    version: int


class PolicyOut(View):
    do_not_contact: bool
    max_contacts_per_30_days: int
    preferred_channels: list[Channel]


class ContactMade(View):
    at: Timestamp
    channel: str
    outcome: str
    note: str


class Suppression(View):
    at: Timestamp
    code: str
    reason: str
    channel: str | None


class Satisfaction(View):
    at: Timestamp
    score: int
    comment: str
    request_id: str | None


class DeclinedOffer(View):
    at: Timestamp
    opportunity_id: str
    kind: str
    reason: str
    cool_down_until: Day


class OutcomeReview(View):
    at: Timestamp
    opportunity_id: str
    delivered_value: str
    note: str


class Refusal(View):
    code: str
    reason: str


class RelationshipOut(View):
    client_id: str
    client_name: str | None
    account_manager: str | None
    tier: str | None
    review_every_days: int | None
    annual_revenue: str | None
    contact_policy: PolicyOut | None
    stopped_on: Day | None
    contact_times: list[Timestamp]
    cool_downs: dict[str, Day] = Field(description="offer kind -> no offer of it before this day")
    recent_contacts: list[ContactMade]
    suppressions: list[Suppression]
    satisfaction: list[Satisfaction]
    declined_offers: list[DeclinedOffer]
    outcome_reviews: list[OutcomeReview]
    updated_at: Timestamp
    version: int
    may_contact_now: bool
    contact_refused_because: Refusal | None


class Profile(View):
    name: str
    segment: str
    business_description: str
    annual_revenue: str | None
    registered_at: Timestamp


class Nuance(View):
    at: Timestamp
    text: str
    author: str


class Promise(View):
    handoff_id: str
    department: str
    scope: str
    due_by: Day


class BriefRequest(View):
    request_id: str
    summary: str
    status: str
    delivery_status: str
    desired_by: Day | None
    promises: list[Promise]
    work_orders: list[dict[str, Any]]


class PromiseDue(View):
    follow_up_id: str
    kind: str
    due_on: Day
    reason: str


class Handover(View):
    brief_id: str
    account_manager: str
    previous_account_manager: str | None
    prepared_at: Timestamp


class BriefOut(View):
    """The handover brief as of now."""

    client_id: str
    profile: Profile | None
    account_manager: str | None
    nuances: list[Nuance]
    tier: str
    review_every_days: int | None
    contact_policy: PolicyOut | None
    stopped_on: Day | None
    open_requests: list[BriefRequest]
    promises_due: list[PromiseDue]
    programs: list[ProgramOut]
    last_contacts: list[ContactMade]
    declined_offers: list[DeclinedOffer]
    satisfaction_history: list[Satisfaction]
    outcome_reviews: list[OutcomeReview]
    suppressions: list[Suppression]
    handovers: list[Handover]


class StoredBriefOut(View):
    """A brief as prepared at a handover (``brief_id``)."""

    brief_id: str
    client_id: str
    account_manager: str
    previous_account_manager: str | None
    brief: dict[str, Any] = Field(description="the brief as it was then (the shape of the brief as of now)")
    prepared_at: Timestamp
    version: int
