"""The head of account management's reports, as JSON or CSV (``Accept: text/csv`` or ``format=csv``)."""

from __future__ import annotations

from baton_shared.service.inputs import NO_NUL
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from baton_followup.api import dependencies as dep
from baton_followup.api.report_schemas import LeadTimesOut, PortfoliosOut, PunctualityOut, RevenueOut, RotationOut
from baton_followup.reports import REPORTS, render_csv
from baton_followup.reports.figures import Filters, Period

router = APIRouter(prefix="/v1/reports", tags=["reports"])

PERIOD = r"^[12]\d{3}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the rows; CSV with a header"}}


async def _answer(
    name: str,
    request: Request,
    period: str | None,
    fmt: str | None,
    account_manager: str | None,
    department: str | None = None,
):
    app = request.app
    today = app.state.application.clock().date()
    filters = Filters(
        Period.parse(period, today),
        today,
        account_manager,
        department.lower() if department else None,
        app.state.rotation_warning_changes,
    )
    async with app.state.runtime.engine.connect() as conn:
        rows = await REPORTS[name].compute(conn, app.state.report_facts, filters)
    if fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", "")):
        return Response(render_csv(rows), media_type="text/csv; charset=utf-8")
    answer = {"report": name, "period": filters.period.as_json(), "as_of": today.isoformat(), "rows": rows}
    if name == "rotation":
        answer["rotated_too_often"] = sorted({r["client_id"] for r in rows if r["rotated_too_often"]})
    return answer


def _period():
    return Query(
        None, pattern=PERIOD, description="`YYYY-MM` (default: this month), `YYYY-Qn` or `YYYY`; years 1000 to 2999"
    )


def _format():
    return Query(
        None, alias="format", pattern="^(json|csv)$", description="`csv`: the rows as CSV (or send `Accept: text/csv`)"
    )


def _manager():
    return Query(None, min_length=1, max_length=200, pattern=NO_NUL)


def _department():
    return Query(None, min_length=1, max_length=100, pattern=NO_NUL)


@router.get(
    "/punctuality",
    response_model=PunctualityOut,
    responses=CSV,
    summary="Per department: work orders due in the period, on time, late (median, p90), overdue, blocked, rework",
)
async def punctuality(
    request: Request,
    period: str | None = _period(),
    fmt: str | None = _format(),
    account_manager: str | None = _manager(),
    department: str | None = _department(),
    who=dep.reports_rule,
):
    return await _answer("punctuality", request, period, fmt, account_manager, department)


@router.get(
    "/lead-times",
    response_model=LeadTimesOut,
    responses=CSV,
    summary="Need captured → handed off → accepted by the department → completed → accepted by the client",
)
async def lead_times(
    request: Request,
    period: str | None = _period(),
    fmt: str | None = _format(),
    account_manager: str | None = _manager(),
    department: str | None = _department(),
    who=dep.reports_rule,
):
    return await _answer("lead-times", request, period, fmt, account_manager, department)


@router.get(
    "/portfolios",
    response_model=PortfoliosOut,
    responses=CSV,
    summary="Per account manager: clients held, reviews overdue, contacts, refusals, offers, outcome reviews",
)
async def portfolios(
    request: Request,
    period: str | None = _period(),
    fmt: str | None = _format(),
    account_manager: str | None = _manager(),
    who=dep.reports_rule,
):
    return await _answer("portfolios", request, period, fmt, account_manager)


@router.get(
    "/rotation",
    response_model=RotationOut,
    responses=CSV,
    summary="Account-manager changes in the 12 months to the period's end; clients rotated too often",
)
async def rotation(
    request: Request,
    period: str | None = _period(),
    fmt: str | None = _format(),
    account_manager: str | None = _manager(),
    who=dep.reports_rule,
):
    return await _answer("rotation", request, period, fmt, account_manager)


@router.get(
    "/revenue",
    response_model=RevenueOut,
    responses=CSV,
    summary="Per month, account manager and client: accepted deliveries, won opportunities, program fees due",
)
async def revenue(
    request: Request,
    period: str | None = _period(),
    fmt: str | None = _format(),
    account_manager: str | None = _manager(),
    who=dep.reports_rule,
):
    return await _answer("revenue", request, period, fmt, account_manager)
