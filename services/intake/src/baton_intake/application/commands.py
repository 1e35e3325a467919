"""Intake's commands, in the imperative. Each carries who issued it, why, and its key (``Command``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from baton_shared.application import Command
from baton_shared.contracts.intake import Contact, ContactPolicy, RequirementValue, Segment, WorkItem


@dataclass(frozen=True, kw_only=True)
class RegisterClient(Command):
    name: str
    segment: Segment
    account_manager: str
    contacts: tuple[Contact, ...] = ()
    business_description: str = ""
    annual_revenue: Decimal | None = None
    contact_policy: ContactPolicy | None = None


@dataclass(frozen=True, kw_only=True)
class ForgetClient(Command):
    client_id: str


@dataclass(frozen=True, kw_only=True)
class AddClientNote(Command):
    client_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class AssignAccountManager(Command):
    client_id: str
    account_manager: str
    handover_note: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeRevenue(Command):
    client_id: str
    annual_revenue: Decimal


@dataclass(frozen=True, kw_only=True)
class GroupUnderParent(Command):
    client_id: str
    parent_organisation: str


@dataclass(frozen=True, kw_only=True)
class SetContactPolicy(Command):
    client_id: str
    policy: ContactPolicy


@dataclass(frozen=True, kw_only=True)
class CaptureNeed(Command):
    client_id: str
    summary: str
    requirements: dict[str, RequirementValue] = field(default_factory=dict)
    budget: Decimal | None = None
    currency: str = "EUR"
    desired_by: date | None = None


@dataclass(frozen=True, kw_only=True)
class RecordClarification(Command):
    request_id: str
    question: str
    answer: str


@dataclass(frozen=True, kw_only=True)
class RequestHandoff(Command):
    request_id: str
    work: tuple[WorkItem, ...]


@dataclass(frozen=True, kw_only=True)
class RequestChange(Command):
    request_id: str
    description: str
    department: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelRequest(Command):
    request_id: str
    reason: str
