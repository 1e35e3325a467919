"""Request bodies of delivery's HTTP API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
DEPARTMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
Department = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
    Field(description="department slug, e.g. `design`; case is ignored"),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptIn(Body):
    member: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class EmptyIn(Body):
    pass


class ProgressIn(Body):
    note: Text
    percent: int | None = Field(None, ge=0, le=100)


class BlockIn(Body):
    reason: Text


class CompleteIn(Body):
    note: OptionalText = ""


class ReworkIn(Body):
    department: Department
    description: Text


class AcceptanceIn(Body):
    accepted: bool
    satisfaction: int | None = Field(None, ge=1, le=5, description="1 (very unhappy) to 5 (delighted)")
    feedback: OptionalText = ""
    rework: list[ReworkIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def verdict_is_consistent(self) -> AcceptanceIn:
        if self.accepted and self.rework:
            raise ValueError("an accepted delivery takes no rework items")
        if not self.accepted and not self.rework:
            raise ValueError("a rejected delivery needs at least one rework item (department and description)")
        if not self.accepted and self.satisfaction is not None:
            raise ValueError("satisfaction is recorded when the client accepts")
        return self
