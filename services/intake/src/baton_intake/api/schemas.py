"""Request and response bodies of intake's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from baton_shared.contracts.intake import Channel, Contact, ContactPolicy, Segment
from baton_shared.service.http import Day, Payload, Timestamp, View
from baton_shared.service.inputs import NO_NUL, STRICT, Date, Department, Money, optional_text, text, whole
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema, field_validator

Text = text(5000)
Name = text(200)


def _email(value: str) -> str:
    """An address as RFC 5321 writes it (no DNS look-up). Unlike pydantic's EmailStr it takes the
    ``.test`` names the OpenAPI ``format: email`` allows (test data, a client's staging inbox)."""
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


Email = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})]


class Body(BaseModel):
    model_config = STRICT


class ContactIn(Body):
    name: Name
    role: optional_text(200) | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9 +()./-]{3,40}$"), AfterValidator(str.strip)] | None = None

    def contact(self) -> Contact:
        return Contact(**self.model_dump())


class ContactPolicyIn(Body):
    do_not_contact: bool = False
    max_contacts_per_30_days: whole(0, 60) = 4
    preferred_channels: list[Channel] = Field(
        default_factory=list,
        max_length=6,
        json_schema_extra={"uniqueItems": True},
        description="each channel at most once",
    )

    @field_validator("preferred_channels")
    @classmethod
    def no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    def policy(self) -> ContactPolicy:
        return ContactPolicy(
            do_not_contact=self.do_not_contact,
            max_contacts_per_30_days=self.max_contacts_per_30_days,
            preferred_channels=tuple(self.preferred_channels),
        )


class ClientIn(Body):
    name: Name
    segment: Segment
    account_manager: Name
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)
    business_description: optional_text(5000) = ""
    annual_revenue: Money | None = None
    contact_policy: ContactPolicyIn | None = None


class NoteIn(Body):
    text: Text


class AccountManagerIn(Body):
    account_manager: Name
    handover_note: optional_text(5000) = ""


class ParentOrganisationIn(Body):
    parent_organisation: Name = Field(description="the organisation the account belongs to; case and spacing aside")


class RevenueIn(Body):
    annual_revenue: Money


RequirementName = text(100)
# What a requirement may hold: text (at most 2000 characters), a whole number, a number, yes/no.
RequirementValue = (
    Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
    | Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    | float
    | bool
)


def _names_as_property_names(schema: dict) -> None:
    """Every name is constrained (``propertyNames``), every value is a requirement value;
    pydantic states the name's pattern as ``patternProperties``, which lets blank names through."""
    ((pattern, value),) = schema.pop("patternProperties").items()
    schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
    schema["additionalProperties"] = value


class RequestIn(Body):
    summary: text(2000)
    requirements: dict[RequirementName, RequirementValue] = Field(
        default_factory=dict, max_length=100, json_schema_extra=_names_as_property_names
    )
    budget: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    desired_by: Date | None = None


class ClarificationIn(Body):
    question: text(2000)
    answer: Text


class WorkIn(Body):
    department: Department
    scope: Text
    due_by: Date


class HandoffIn(Body):
    work: list[WorkIn] = Field(max_length=50)


class ChangeIn(Body):
    department: Department | None = None
    description: Text


class CancelIn(Body):
    reason: text(2000)


# --- what reads answer ---------------------------------------------------------------


class ClientSummary(View):
    client_id: str
    name: str
    segment: Segment
    account_manager: str
    annual_revenue: str | None
    updated_at: Timestamp


class ContactOut(View):
    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None


class ContactPolicyOut(View):
    do_not_contact: bool
    max_contacts_per_30_days: int
    preferred_channels: list[Channel]


class NoteOut(View):
    note_id: str
    text: str
    author: str
    added_at: Timestamp


class ManagerSpell(View):
    account_manager: str
    since: Timestamp


class OpenRequest(View):
    request_id: str
    summary: str
    status: str


class ClientOut(View):
    client_id: str
    name: str
    segment: Segment
    account_manager: str
    business_description: str
    annual_revenue: str | None
    contacts: list[ContactOut] = Field(description="empty once the client's personal data is forgotten")
    contact_policy: ContactPolicyOut
    notes: list[NoteOut]
    account_manager_history: list[ManagerSpell]
    registered_at: Timestamp
    updated_at: Timestamp
    version: int
    personal_data_erased_at: Timestamp | None
    open_requests: list[OpenRequest]


class TimelineEntry(View):
    client_id: str
    stream: str
    seq: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: Timestamp
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: Payload


class Clarification(View):
    question: str
    answer: str
    at: Timestamp


class HandoffOut(View):
    handoff_id: str
    department: str
    scope: str
    due_by: Day


class ChangeOut(View):
    change_id: str
    department: str | None
    description: str


class WorkOrderProgress(View):
    work_order_id: str
    department: str
    status: str
    overdue: bool = False


class DeliveryProgress(View):
    handover: str
    handover_round: int
    work_orders: list[WorkOrderProgress]
    completed: int
    live: int
    overdue: int
    blocked: int
    acceptance: dict[str, Any] | None
    as_of: Timestamp


class RequestOut(View):
    request_id: str
    client_id: str
    summary: str
    requirements: dict[str, str | int | float | bool]
    budget: str | None
    currency: str
    desired_by: Day | None
    status: str
    clarifications: list[Clarification]
    handoffs: list[HandoffOut]
    changes: list[ChangeOut]
    cancellation: dict[str, Any] | None
    captured_at: Timestamp
    updated_at: Timestamp
    version: int
    delivery: DeliveryProgress | None = Field(
        description="delivery's progress, projected from its events; null before any"
    )
