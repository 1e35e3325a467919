"""The head of account management's reports, as JSON pages or CSV (``Accept: text/csv`` or ``format=csv``).

A report is computed once and kept for ``BATON_FOLLOWUP_REPORT_SNAPSHOT_SECONDS`` (and
computed again in the background while it is asked for); its pages (``limit``/``offset``) and
its CSV come from that one computation (``reports.snapshots``).
"""

from __future__ import annotations

from dataclasses import dataclass

from baton_shared.service.inputs import NO_NUL
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from baton_followup.api import dependencies as dep
from baton_followup.api.report_schemas import LeadTimesOut, PortfoliosOut, PunctualityOut, RevenueOut, RotationOut
from baton_followup.reports import REPORTS, render_csv
from baton_followup.reports.figures import Filters, Period
from baton_followup.reports.live import computation

router = APIRouter(prefix="/v1/reports", tags=["reports"])

PERIOD = r"^[12]\d{3}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the rows; CSV with a header"}}


@dataclass(frozen=True)
class Asked:
    period: str | None
    fmt: str | None
    limit: int
    offset: int
    fresh: bool
    account_manager: str | None


def asked(
    period: str | None = Query(
        None, pattern=PERIOD, description="`YYYY-MM` (default: this month), `YYYY-Qn` or `YYYY`; years 1000 to 2999"
    ),
    fmt: str | None = Query(
        None, alias="format", pattern="^(json|csv)$", description="`csv`: every row as CSV (or `Accept: text/csv`)"
    ),
    limit: int = Query(200, ge=1, le=1000, description="rows per page (JSON)"),
    offset: int = Query(0, ge=0, le=1_000_000),
    fresh: bool = Query(False, description="compute again now rather than page through the kept computation"),
    account_manager: str | None = Query(None, min_length=1, max_length=200, pattern=NO_NUL),
) -> Asked:
    return Asked(period, fmt, limit, offset, fresh, account_manager)


def department_filter(department: str | None = Query(None, min_length=1, max_length=100, pattern=NO_NUL)):
    return department.lower() if department else None


async def _answer(name: str, request: Request, q: Asked, department: str | None = None):
    app = request.app
    today = app.state.application.clock().date()
    filters = Filters(
        Period.parse(q.period, today), today, q.account_manager, department, app.state.rotation_warning_changes
    )
    key, compute, positions = computation(app.state.runtime, app.state.report_facts, name, filters)
    snapshot = await app.state.report_snapshots.get(key, compute, positions, fresh=q.fresh)
    if q.fmt == "csv" or (q.fmt is None and "text/csv" in request.headers.get("accept", "")):
        return Response(render_csv(snapshot.rows), media_type="text/csv; charset=utf-8")
    answer = {
        "report": name,
        "period": filters.period.as_json(),
        "as_of": today.isoformat(),
        "computed_at": snapshot.computed_at.isoformat(),
        "positions": snapshot.positions,
        "total": len(snapshot.rows),
        "limit": q.limit,
        "offset": q.offset,
        "rows": snapshot.page(q.limit, q.offset),
    }
    answer.update(getattr(snapshot.rows, "notes", {}))  # rotation: the clients rotated too often
    return answer


SUMMARIES = {
    "punctuality": (
        PunctualityOut,
        "Per department: work orders due in the period, on time, late (median, p90), overdue, blocked, rework",
    ),
    "lead-times": (
        LeadTimesOut,
        "Need captured → handed off → accepted by the department → completed → accepted by the client",
    ),
    "portfolios": (
        PortfoliosOut,
        "Per account manager: clients held, reviews overdue, cases open, contacts, refusals, offers, outcome reviews",
    ),
    "rotation": (
        RotationOut,
        "Account-manager changes in the 12 months to the period's end; clients rotated too often",
    ),
    "revenue": (
        RevenueOut,
        "Per month, account manager and client: accepted deliveries, won opportunities, program fees due",
    ),
}


def _route(name: str, by_department: bool) -> None:
    model, summary = SUMMARIES[name]
    if by_department:

        async def report(
            request: Request, q: Asked = Depends(asked), department=Depends(department_filter), who=dep.reports_rule
        ):  # noqa: ANN001, E501
            return await _answer(name, request, q, department)
    else:

        async def report(request: Request, q: Asked = Depends(asked), who=dep.reports_rule):  # noqa: ANN001
            return await _answer(name, request, q)

    report.__name__ = name.replace("-", "_")
    router.get(f"/{name}", response_model=model, responses=CSV, summary=summary)(report)


for _name, _report in REPORTS.items():
    _route(_name, "department" in _report.filters)
