"""Request and response bodies of intake's HTTP API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from baton_shared.contracts.intake import Channel, Contact, ContactPolicy, RequirementValue, Segment

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Department = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
    Field(description="department slug, e.g. `design`; case is ignored"),
]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), decimal_places=2)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(Body):
    name: Name
    role: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9 +()./-]{3,40}$")] | None = None

    def contact(self) -> Contact:
        return Contact(**self.model_dump())


class ClientIn(Body):
    name: Name
    segment: Segment
    account_manager: Name
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)
    business_description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    annual_revenue: Money | None = None
    contact_policy: ContactPolicy | None = None


class NoteIn(Body):
    text: Text


class AccountManagerIn(Body):
    account_manager: Name
    handover_note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""


class RevenueIn(Body):
    annual_revenue: Money


class ContactPolicyIn(Body):
    do_not_contact: bool = False
    max_contacts_per_30_days: int = Field(4, ge=0, le=60)
    preferred_channels: list[Channel] = Field(default_factory=list, max_length=6)

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


RequirementName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RequestIn(Body):
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    requirements: dict[RequirementName, RequirementValue] = Field(default_factory=dict, max_length=100)
    budget: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    desired_by: date | None = None

    @field_validator("requirements")
    @classmethod
    def short_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            if isinstance(item, str) and len(item) > 2000:
                raise ValueError(f"requirement {name!r} is longer than 2000 characters")
        return value


class ClarificationIn(Body):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    answer: Text


class WorkIn(Body):
    department: Department
    scope: Text
    due_by: date


class HandoffIn(Body):
    work: list[WorkIn] = Field(max_length=50)


class ChangeIn(Body):
    department: Department | None = None
    description: Text


class CancelIn(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
