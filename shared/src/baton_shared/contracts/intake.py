"""Events published by the intake service (stream INTAKE, subjects ``intake.>``).

Every payload carries ``client_id`` so any consumer can place the event in the
client's history without looking anything up.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from baton_shared.contracts.sealed import SealedData
from baton_shared.events.envelope import DomainEvent
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()  # intake's contracts; ``contracts.registry`` knows them all

Segment = Literal["B2B", "B2C"]
Channel = Literal["phone", "email", "meeting", "sms", "chat", "letter"]
RequirementValue = str | int | float | bool


class Contact(BaseModel):
    """A person at the client. Validated strictly at the API; stored as given, so an
    event written years ago still loads whatever today's validation rules say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None


class ContactPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    do_not_contact: bool = False
    max_contacts_per_30_days: int = Field(default=4, ge=0, le=60)
    preferred_channels: tuple[Channel, ...] = ()


class IntakeEvent(DomainEvent):
    service = "intake"


class WorkItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    scope: str
    due_by: date


# --- client aggregate -------------------------------------------------------


@registry.register
class ClientRegistered(IntakeEvent):
    """A new client entered the base with their business profile.

    v2: the contacts (people's names, roles, e-mail addresses, phone numbers) are in
    ``sealed_contacts``, encrypted with the client's data key (``baton_shared.privacy``,
    purpose ``contacts``: a JSON list of Contact); forgetting the client destroys the key.
    ``legacy_contacts`` holds the plaintext of v1 events (upcast), never written any more."""

    event_type = "ClientRegistered"
    schema_version = 2
    aggregate_type = "client"

    client_id: str
    name: str
    segment: Segment
    sealed_contacts: SealedData | None = None
    legacy_contacts: tuple[Contact, ...] = ()
    business_description: str = ""
    annual_revenue: Decimal | None = None
    account_manager: str
    contact_policy: ContactPolicy = ContactPolicy()
    # The contact person's group: a keyed HMAC of the first contact's normalised e-mail (else
    # phone) under intake's key, as a UUID. Says nothing about the person without that key.
    contact_group: str | None = None


@registry.upcaster("ClientRegistered", 1)
def _client_registered_v1_to_v2(payload: dict) -> dict:
    payload = dict(payload)
    payload["legacy_contacts"] = payload.pop("contacts", [])
    return payload


CONTACTS_PURPOSE = "contacts"


@registry.register
class ClientForgotten(IntakeEvent):
    """The client's personal data was forgotten: their data key is destroyed, so the
    contacts sealed in earlier events can no longer be read. Carries no personal data."""

    event_type = "ClientForgotten"
    aggregate_type = "client"

    client_id: str


@registry.register
class ClientGrouped(IntakeEvent):
    """The client is an account of a parent organisation: its contacts are decided with the
    organisation's other accounts (``group_id``: a keyed HMAC of the normalised name, as a UUID)."""

    event_type = "ClientGrouped"
    aggregate_type = "client"

    client_id: str
    group_id: str
    parent_organisation: str


@registry.register
class ClientNoteAdded(IntakeEvent):
    "A nuance about the client that nobody should have to ask again."

    event_type = "ClientNoteAdded"
    aggregate_type = "client"

    client_id: str
    note_id: str
    text: str
    author: str


@registry.register
class AccountManagerAssigned(IntakeEvent):
    "The client's account manager changed; follow-up builds a handover brief."

    event_type = "AccountManagerAssigned"
    aggregate_type = "client"

    client_id: str
    account_manager: str
    previous_account_manager: str | None
    handover_note: str = ""


@registry.register
class ClientRevenueChanged(IntakeEvent):
    "The client's annual revenue changed (follow-up re-tiers the client)."

    event_type = "ClientRevenueChanged"
    aggregate_type = "client"

    client_id: str
    annual_revenue: Decimal
    previous_annual_revenue: Decimal | None


@registry.register
class ContactPolicyChanged(IntakeEvent):
    "How, and how often, the client agrees to be contacted."

    event_type = "ContactPolicyChanged"
    aggregate_type = "client"

    client_id: str
    contact_policy: ContactPolicy


# --- request aggregate ------------------------------------------------------


@registry.register
class NeedCaptured(IntakeEvent):
    "A client's need was captured as a new request."

    event_type = "NeedCaptured"
    aggregate_type = "request"

    request_id: str
    client_id: str
    summary: str
    requirements: dict[str, RequirementValue] = {}
    budget: Decimal | None = None
    currency: str = "EUR"
    desired_by: date | None = None
    source_opportunity_id: str | None = None  # a need follow-up won (the loop closes)


@registry.register
class ClarificationRecorded(IntakeEvent):
    "A question about the need and the client's answer."

    event_type = "ClarificationRecorded"
    aggregate_type = "request"

    request_id: str
    client_id: str
    question: str
    answer: str


@registry.register
class HandoffRequested(IntakeEvent):
    "Work handed to one department; delivery opens a work order for it."

    event_type = "HandoffRequested"
    aggregate_type = "request"

    request_id: str
    client_id: str
    handoff_id: str
    department: str
    scope: str
    due_by: date
    account_manager: str


@registry.register
class ChangeRequested(IntakeEvent):
    "The client asked for a change mid-way (for one department, or all when none is named)."

    event_type = "ChangeRequested"
    aggregate_type = "request"

    request_id: str
    client_id: str
    change_id: str
    department: str | None
    description: str
    requested_by: str


@registry.register
class RequestCancelled(IntakeEvent):
    "The request was cancelled; its open work orders are cancelled in delivery."

    event_type = "RequestCancelled"
    aggregate_type = "request"

    request_id: str
    client_id: str
    reason: str
    cancelled_at: datetime
