"""Request bodies of delivery's HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from baton_shared.service.http import Day, Payload, Timestamp, View
from baton_shared.service.inputs import (
    DEPARTMENT_PATTERN,
    STRICT,
    Currency,
    Department,
    Money,
    optional_text,
    text,
    whole,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator

Text = text(5000)
OptionalText = optional_text(5000)
__all__ = ["DEPARTMENT_PATTERN", "Department"]


class Body(BaseModel):
    model_config = STRICT


class AcceptIn(Body):
    member: text(200)


class EmptyIn(Body):
    pass


class ProgressIn(Body):
    note: Text
    percent: whole(0, 100) | None = None


class BlockIn(Body):
    reason: Text


class CompleteIn(Body):
    note: OptionalText = ""


def _rework_money_schema(schema: dict) -> None:
    """The money rules, as the document can state them (``money_is_complete``)."""
    schema["dependentRequired"] = {"amount": ["currency"], "currency": ["amount"]}
    schema["if"] = {"properties": {"paid_by": {"const": "client"}}, "required": ["paid_by"]}
    schema["then"] = {"required": ["amount", "currency"]}


class ReworkIn(Body):
    model_config = ConfigDict(**STRICT, json_schema_extra=_rework_money_schema)

    department: Department
    description: Text
    paid_by: Literal["client", "us"] = Field("us", description="who pays for the correction: `us` or the `client`")
    # absent, never null: the document states "an amount needs its currency" by presence
    amount: Money = Field(None, description="what it costs whoever pays; required when the client pays")
    currency: Currency = Field(None, description="the amount's currency; given with the amount")

    @model_validator(mode="after")
    def money_is_complete(self) -> ReworkIn:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("an amount and its currency come together")
        if self.paid_by == "client" and self.amount is None:
            raise ValueError("rework the client pays for needs its amount and currency")
        return self


def _verdict_schema(schema: dict) -> None:
    """The verdict's rules, as the document can state them (``verdict_is_consistent``)."""
    schema["if"] = {"properties": {"accepted": {"const": True}}, "required": ["accepted"]}
    schema["then"] = {"properties": {"rework": {"maxItems": 0}}}
    schema["else"] = {
        "properties": {"rework": {"minItems": 1}, "satisfaction": {"type": "null"}},
        "required": ["rework"],
    }


class AcceptanceIn(Body):
    model_config = ConfigDict(**STRICT, json_schema_extra=_verdict_schema)

    accepted: bool
    satisfaction: whole(1, 5) | None = Field(None, description="1 (very unhappy) to 5 (delighted)")
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


# --- what reads answer ---------------------------------------------------------------

WorkOrderStatus = Literal["opened", "accepted", "in_progress", "blocked", "completed", "reopened", "cancelled"]


class AttachedChange(View):
    change_id: str
    description: str
    requested_by: str | None = None
    requested_at: Timestamp | None = None


class WorkOrderOut(View):
    work_order_id: str
    request_id: str
    client_id: str
    department: str
    scope: str
    due_by: Day
    status: WorkOrderStatus
    status_before_block: WorkOrderStatus | None
    member: str | None
    percent: int | None
    last_note: str | None
    blocked_reason: str | None
    blocked_since: Timestamp | None
    blocked_seconds: float
    overdue: bool
    rework_rounds: int
    changes: list[AttachedChange]
    account_manager: str
    opened_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    version: int


class HistoryEntry(View):
    seq: int
    event_type: str
    occurred_at: Timestamp
    actor: str
    causation_id: str | None
    payload: Payload


class WorkOrderWithHistory(WorkOrderOut):
    history: list[HistoryEntry] = Field(description="the work order's events as far as the row shows, in order")


class Escalation(WorkOrderOut):
    current_account_manager: str
    client_name: str | None
    reasons: list[str] = Field(description="why it is escalated: `overdue`, `blocked`")


class ReworkOut(View):
    department: str
    description: str
    paid_by: Literal["client", "us"] = "us"  # rows written before v2 of DeliveryRejected say nothing: ours
    amount: str | None = Field(None, description="decimal string; null when nobody priced it")
    currency: str | None = None


class HandoverRound(View):
    round: int
    ready_at: Timestamp
    outcome: str | None
    rework: list[ReworkOut] | None = Field(None, description="the corrections asked for, when the outcome is rework")


class ReworkMoney(View):
    paid_by: Literal["client", "us"]
    currency: str | None = Field(description="null for the unpriced items")
    amount: str | None = Field(description="their sum, a decimal string; null for the unpriced items")
    items: int


class RequestDeliveryOut(View):
    request_id: str
    client_id: str
    account_manager: str
    handover: str
    handover_round: int
    rounds: list[HandoverRound]
    acceptance: dict[str, Any] | None
    updated_at: Timestamp
    version: int
    work_orders: list[WorkOrderOut]
    rework_money: list[ReworkMoney] = Field(
        description="what the corrections of every round cost, by payer and currency"
    )


class BoardOut(View):
    department: str
    counts: dict[str, int] = Field(description="work orders by status")
    overdue: list[WorkOrderOut] = Field(description="live overdue work, oldest due first (one page)")
    overdue_total: int
    limit: int
    offset: int
