"""Request bodies of follow-up's HTTP API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from baton_shared.contracts.followup import ContactOutcome, DeliveredValue
from baton_shared.contracts.intake import Channel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(Body):
    channel: Channel
    outcome: ContactOutcome = Field(description="`stop`: the client asked not to be contacted again")
    note: OptionalText = ""


class SatisfactionIn(Body):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (delighted)")
    comment: OptionalText = ""
    request_id: str | None = Field(None, pattern=UUID_PATTERN, description="the delivery this is about, if one")


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
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    starts_on: date | None = Field(None, description="default: today")
    minimum_term_months: int = Field(6, ge=1, le=120)
    total_term_months: int = Field(12, ge=1, le=120)
    notice_days: int = Field(30, ge=0, le=365)
    trailing_12_month_revenue: Decimal | None = Field(
        None, ge=0, le=Decimal("1e15"), max_digits=20, decimal_places=2,
        description="default: the client's annual revenue as recorded in intake",
    )

    @model_validator(mode="after")
    def _terms(self) -> ProgramIn:
        if self.minimum_term_months > self.total_term_months:
            raise ValueError("minimum_term_months cannot exceed total_term_months")
        return self


class CancelIn(Body):
    reason: Text
