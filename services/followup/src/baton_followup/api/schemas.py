"""Request bodies of follow-up's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from baton_shared.contracts.followup import ComplaintCategory, ComplaintSeverity, ContactOutcome, DeliveredValue
from baton_shared.contracts.intake import Channel
from baton_shared.service.http import Day, Timestamp, View
from baton_shared.service.inputs import (
    STRICT,
    Currency,
    Date,
    Department,
    Money as MoneyText,
    optional_text,
    text,
    whole,
)
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from baton_followup.domain import Money

Text = text(5000)
OptionalText = optional_text(5000)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Body(BaseModel):
    model_config = STRICT


class RecoveryCloseIn(Body):
    actions_taken: Text = Field(description="what was done to put things right")
    client_answer: Text = Field(description="what the client said to it")


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


def _value_with_currency(amount: str):
    """``amount`` and ``currency`` come together (stated in the document: ``dependentRequired``)."""

    def extra(schema: dict) -> None:
        schema["dependentRequired"] = {amount: ["currency"], "currency": [amount]}

    return extra


def _money(body: BaseModel, amount: str) -> Money | None:
    value, currency = getattr(body, amount), body.currency
    if (value is None) != (currency is None):
        raise ValueError(f"{amount} and currency come together")
    return None if value is None else Money(value, currency)


class EstimateIn(Body):
    estimated_value: MoneyText = Field(description="what the opportunity is estimated to be worth")
    currency: Currency


class WinIn(Body):
    model_config = ConfigDict(**STRICT, json_schema_extra=_value_with_currency("agreed_value"))

    note: OptionalText = ""
    # absent, never null: the document states "a value needs its currency" by presence
    agreed_value: MoneyText = Field(None, description="what the client agreed to pay; default: the latest estimate")
    currency: Currency = Field(None, description="the agreed value's currency; given with it")

    @model_validator(mode="after")
    def value_has_currency(self) -> WinIn:
        _money(self, "agreed_value")
        return self

    @property
    def agreed(self) -> Money | None:
        return _money(self, "agreed_value")


class OutcomeIn(Body):
    model_config = ConfigDict(**STRICT, json_schema_extra=_value_with_currency("realised_value"))

    delivered_value: DeliveredValue = Field(description="did it deliver what was promised for the client?")
    note: OptionalText = ""
    realised_value: MoneyText = Field(None, description="what the sale brought in, in the agreed value's currency")
    currency: Currency = Field(None, description="the realised value's currency; given with it")

    @model_validator(mode="after")
    def value_has_currency(self) -> OutcomeIn:
        _money(self, "realised_value")
        return self

    @property
    def realised(self) -> Money | None:
        return _money(self, "realised_value")


class ProgramIn(Body):
    name: text(200)
    starts_on: Date | None = Field(None, description="default: today")
    minimum_term_months: whole(1, 120) = 6
    total_term_months: whole(1, 120) = 12
    notice_days: whole(0, 365) = 30
    trailing_12_month_revenue: MoneyText | None = Field(
        None, description="default: the client's annual revenue as recorded in intake"
    )


class CancelIn(Body):
    reason: Text


class EndIn(Body):
    reason: Text


class SwitchIn(Body):
    reason: Text
    name: text(200) = Field(description="the new program")
    minimum_term_months: whole(1, 120) = 6
    total_term_months: whole(1, 120) = 12
    notice_days: whole(0, 365) = 30
    trailing_12_month_revenue: MoneyText | None = Field(
        None, description="default: the client's annual revenue as recorded in intake"
    )


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
    may_contact: bool = Field(description="the contact policy allows a contact now")
    not_now_code: str | None = Field(
        description="why not, as a code: do_not_contact | stopped | frequency_cap | cool_down (null when allowed)"
    )
    not_now: str | None = Field(description="why not, in words (null when allowed)")


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
    estimated_value: str | None = Field(None, description="the latest estimate, a decimal string")
    agreed_value: str | None = Field(
        None, description="what the client agreed to pay when won (else the estimate then)"
    )
    realised_value: str | None = Field(None, description="what it brought in, as told at the outcome review")
    currency: str | None = None
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
    ended_on: Day | None = Field(None, description="the day the provider ended it or the client switched")
    end_reason: str | None = None
    switched_to: str | None = Field(None, description="the program the client switched to")
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


class RecoveryOut(View):
    recovery_id: str = Field(description="also the id of its follow-up (kind `recovery`)")
    client_id: str
    status: str = Field(description="open | closed; while open, offers to the client are refused")
    cause: str = Field(description="low_satisfaction | delivery_rejected")
    reason: str
    feedback: str
    score: int | None
    request_id: str | None
    due_on: Day
    opened_at: Timestamp
    actions_taken: str | None
    client_answer: str | None
    closed_at: Timestamp | None
    closed_by: str | None
    version: int


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
    recoveries: list[RecoveryOut] = Field(description="open and past recoveries, oldest first")
    complaints: list[ComplaintOut] = Field(
        default_factory=list, description="open and past complaint cases, earliest resolution deadline first"
    )


class StoredBriefOut(View):
    """A brief as prepared at a handover (``brief_id``)."""

    brief_id: str
    client_id: str
    account_manager: str
    previous_account_manager: str | None
    brief: dict[str, Any] = Field(description="the brief as it was then (the shape of the brief as of now)")
    prepared_at: Timestamp
    version: int


class HealthPoint(View):
    at: Timestamp
    score: int
    reasons: list[str]


class HealthOut(View):
    """A client's health, 0-100, with its reasons in words (the formula: docs/architecture.md)."""

    client_id: str
    as_of: Day | None = Field(description="the day asked for; null: now")
    score: int
    reasons: list[str] = Field(description="each deduction from 100, in points and words")
    trend_30_days: int = Field(description="score now minus the score 30 days before (0: no change)")
    at_risk: bool
    at_risk_reason: str | None
    at_risk_since: Timestamp | None
    history: list[HealthPoint] = Field(description="every change of the score, oldest first (up to as_of)")


class AtRiskClient(View):
    client_id: str
    client_name: str
    account_manager: str
    score: int
    reasons: list[str]
    at_risk_reason: str | None
    at_risk_since: Timestamp


# --- complaints ------------------------------------------------------------------------------

Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


class ComplaintIn(Body):
    category: ComplaintCategory = Field(
        description="`delivery_quality`, `delay`, `billing`, `contact` (pestering), `client_account` (a problem on the "
        "client's side), `other`"
    )
    severity: ComplaintSeverity = "medium"
    description: Text
    request_id: Uuid | None = Field(None, description="the request it concerns")
    work_order_id: Uuid | None = Field(None, description="the work order it concerns")
    program_id: Uuid | None = Field(None, description="the program it concerns")


class AcknowledgeIn(Body):
    response: Text = Field(description="the first response given to the client")


class AssignIn(Body):
    department: Department


class ResolveIn(Body):
    resolution: Text
    root_cause: Text


class ReopenIn(Body):
    reason: Text


class ComplaintBreach(View):
    deadline: Literal["first_response", "resolution"]
    round: int
    due_at: Timestamp
    detected_at: Timestamp
    escalated_to_role: str
    escalated_to: str | None


class ComplaintOut(View):
    complaint_id: str
    client_id: str
    account_manager: str
    tier: str
    category: str
    severity: str
    description: str
    request_id: str | None
    work_order_id: str | None
    program_id: str | None
    status: Literal["opened", "acknowledged", "in_progress", "resolved", "confirmed", "reopened"]
    department: str | None
    round: int
    opened_at: Timestamp
    respond_by: Timestamp
    resolve_by: Timestamp
    acknowledged_at: Timestamp | None
    response: str | None
    resolved_at: Timestamp | None
    resolution: str | None
    root_cause: str | None
    confirmed_at: Timestamp | None
    reopened_reason: str | None
    breaches: list[ComplaintBreach]
    escalated_to_role: str | None = Field(description="who the case is escalated to, by role (after a missed deadline)")
    escalated_to: str | None
    updated_at: Timestamp
    version: int
