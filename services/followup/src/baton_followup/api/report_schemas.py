"""What the head's reports answer (``/v1/reports/…``): a period and flat rows, the CSV's columns."""

from __future__ import annotations

from baton_shared.service.http import Day, Timestamp
from pydantic import BaseModel, Field


class PeriodOut(BaseModel):
    label: str = Field(description="as asked: `YYYY-MM`, `YYYY-Qn` or `YYYY`")
    from_: Day = Field(alias="from", description="first day")
    to: Day = Field(description="the day after the last")


class PunctualityRow(BaseModel):
    department: str
    due: int = Field(description="work orders due in the period (cancelled ones left out)")
    on_time: int = Field(description="first completed on or before the due date")
    late: int = Field(description="first completed after the due date")
    late_median_days: float | None
    late_p90_days: float | None
    still_overdue: int = Field(description="not completed, due date passed")
    open_not_yet_due: int
    blocked_hours: float
    rework_rounds: int
    rework_rounds_per_request: float


class LeadTimeRow(BaseModel):
    group_by: str = Field(description="`department` or `segment`")
    group: str
    stage: str = Field(
        description="captured_to_handed_off, handed_off_to_accepted, accepted_to_completed, "
        "completed_to_client_accepted, captured_to_client_accepted"
    )
    count: int
    p50_days: float | None
    p90_days: float | None


class PortfolioRow(BaseModel):
    account_manager: str
    clients: int
    key_accounts: int
    reviews_overdue: int
    oldest_overdue_review_days: int | None
    recoveries_open: int
    complaints_open: int
    contacts_made: int
    contacts_refused: int
    refused_do_not_contact: int
    refused_stopped: int
    refused_frequency_cap: int
    refused_cool_down: int
    refused_channel: int
    refused_recovery_in_progress: int
    refused_managed_elsewhere: int
    offers_made: int
    offers_won: int
    offers_declined: int
    outcome_reviews: int
    outcome_more_than_promised: int
    outcome_as_promised: int
    outcome_less_than_promised: int
    outcome_nothing: int


class RotationRow(BaseModel):
    client_id: str
    client_name: str | None
    changed_at: Timestamp
    account_manager: str
    previous_account_manager: str | None
    changes_in_12_months: int
    rotated_too_often: bool = Field(
        description="more changes in 12 months than BATON_FOLLOWUP_ROTATION_WARNING_CHANGES"
    )
    brief_acknowledged: bool = Field(description="the new manager has read or confirmed the handover brief")
    brief_acknowledged_at: Timestamp | None
    brief_acknowledged_how: str | None = Field(description="`read` or `confirmed`")


class RevenueRow(BaseModel):
    month: str = Field(description="YYYY-MM")
    account_manager: str
    client_id: str
    client_name: str | None
    currency: str
    accepted_deliveries: int
    accepted_value: str = Field(description="sum of the accepted requests' budgets (decimal string)")
    opportunities_won: int
    won_value: str = Field(description="sum of the budgets of the requests won opportunities became, where known")
    program_fees_due: str


class ReportOut(BaseModel):
    report: str
    period: PeriodOut
    as_of: Day = Field(description="the day 'overdue' and 'now' are counted from")
    computed_at: Timestamp = Field(description="when the rows were computed (pages of one computation agree)")
    positions: dict[str, int] = Field(
        description="each stream's position the report facts had reached when the computation began"
    )
    total: int = Field(description="rows in the whole report")
    limit: int
    offset: int


class PunctualityOut(ReportOut):
    rows: list[PunctualityRow]


class LeadTimesOut(ReportOut):
    rows: list[LeadTimeRow]


class PortfoliosOut(ReportOut):
    rows: list[PortfolioRow]


class RotationOut(ReportOut):
    rows: list[RotationRow]
    rotated_too_often: list[str] = Field(description="ids of the clients rotated more often than the threshold")


class RevenueOut(ReportOut):
    rows: list[RevenueRow]
