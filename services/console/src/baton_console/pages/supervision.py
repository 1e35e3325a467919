"""The head of account management's pages: the five reports (a page of rows, or every row as
CSV) and the clients at risk (an account manager sees their own)."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from baton_console.gateway import ApiError
from baton_console.web import PAGE, console

router = APIRouter()

REPORTS = {
    "punctuality": "Punctuality per department",
    "lead-times": "Handoff lead times",
    "portfolios": "Account managers' portfolios",
    "rotation": "Rotation of account managers",
    "revenue": "Revenue",
}
BY_DEPARTMENT = {"punctuality", "lead-times"}
REPORT_ROWS = 50
PERIOD = re.compile(r"^[12]\d{3}(-(0[1-9]|1[0-2])|-Q[1-4])?$")


def _asked(request: Request) -> tuple[str, dict[str, str], list[str]]:
    """The report and its filters from the query string, with what is wrong in it, in words."""
    q = request.query_params
    name = q.get("report", "punctuality")
    problems = []
    if name not in REPORTS:
        problems.append(f"There is no report {name!r}.")
        name = "punctuality"
    period = q.get("period", "").strip() or f"{date.today():%Y-%m}"
    if not PERIOD.match(period):
        problems.append("A period is a month (2026-09), a quarter (2026-Q3) or a year (2026).")
        period = f"{date.today():%Y-%m}"
    filters = {"period": period, "account_manager": q.get("account_manager", "").strip()}
    if name in BY_DEPARTMENT:
        filters["department"] = q.get("department", "").strip()
    return name, {k: v for k, v in filters.items() if v}, problems


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request, offset: int = 0) -> Response:
    c = console(request)
    session = c.person(request)
    name, filters, problems = _asked(request)
    offset = max(0, offset)
    report = None
    if not problems:
        again = {"fresh": "true"} if request.query_params.get("fresh") == "1" else {}  # "compute again now"
        report = await c.api(request, session).get(
            "followup", f"/v1/reports/{name}", limit=REPORT_ROWS, offset=offset, **filters, **again
        )
    query = urlencode({"report": name, **filters})
    return c.render(
        request,
        "reports.html",
        session,
        reports=REPORTS,
        report_name=name,
        filters=filters,
        by_department=name in BY_DEPARTMENT,
        report=report,
        problems=problems,
        offset=offset,
        page_size=REPORT_ROWS,
        query=query,
        columns=list(report["rows"][0]) if report and report["rows"] else [],
    )


@router.get("/reports.csv")
async def report_csv(request: Request) -> Response:
    c = console(request)
    session = c.person(request)
    name, filters, problems = _asked(request)
    if problems:
        raise ApiError(422, " ".join(problems))
    text = await c.api(request, session).csv("followup", f"/v1/reports/{name}", **filters)
    filename = f"baton-{name}-{filters['period']}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/at-risk", response_class=HTMLResponse)
async def at_risk(request: Request, offset: int = 0) -> Response:
    c = console(request)
    session = c.person(request)
    mine = {"account_manager": session.name} if session.role == "account_manager" else {}
    page = await c.api(request, session).get(
        "followup", "/v1/health/at-risk", limit=PAGE, offset=max(0, offset), **mine
    )
    return c.render(request, "at_risk.html", session, clients=page, offset=max(0, offset), page_size=PAGE)
