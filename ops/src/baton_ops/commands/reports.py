"""``baton reports NAME``: a head-of-account-management report as the log stood at a moment."""

from __future__ import annotations

from datetime import date, datetime, timezone

import typer

from baton_ops.catalogue import UsageError, service
from baton_ops.terminal import console, emit_json, run
from baton_ops.event_log import seq_before

app = typer.Typer()  # ``baton reports``, registered at the top by baton_ops.cli


@app.command("reports")
def reports(
    name: str = typer.Argument(..., help="punctuality, lead-times, portfolios, rotation or revenue"),
    as_of: datetime = typer.Option(
        None, "--as-of", help="the log as it stood then, e.g. 2026-09-30T23:59:59+00:00 (default: now)"
    ),
    period: str = typer.Option(None, "--period", help="YYYY-MM (default: the month of --as-of), YYYY-Qn or YYYY"),
    today: datetime = typer.Option(
        None, "--today", formats=["%Y-%m-%d"], help="the day overdue is counted from (default: the day of --as-of)"
    ),
    account_manager: str = typer.Option(None, "--account-manager"),
    department: str = typer.Option(None, "--department"),
    as_csv: bool = typer.Option(False, "--csv", help="the rows as CSV"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON (as the API answers it)"),
) -> None:
    """Compute a report from copies of follow-up's report facts as of a moment (rebuilt from
    the log beside the live tables, dropped afterwards); the service keeps serving."""
    from baton_followup.reports import REPORTS, Period, render_csv
    from baton_followup.reports.as_of import report_at
    from baton_followup.reports.figures import Filters
    from baton_followup.settings import FollowupSettings
    from baton_shared.projections.sql import make_engine

    if name not in REPORTS:
        raise typer.BadParameter(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    moment = as_of or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise typer.BadParameter("give --as-of with a zone, e.g. 2026-09-30T23:59:59+00:00")
    day: date = today.date() if today else moment.astimezone(timezone.utc).date()
    try:
        filters = Filters(
            Period.parse(period, day),
            day,
            account_manager,
            department.lower() if department else None,
            FollowupSettings().followup_rotation_warning_changes,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def body(nc) -> int:
        engine = make_engine(service("followup").database_url)
        try:
            rows, positions = await report_at(nc, engine, name, filters, lambda stream: seq_before(nc, stream, moment))
        except KeyError as exc:
            raise UsageError(f"follow-up's database has no report facts yet ({exc})") from None
        finally:
            await engine.dispose()
        if as_csv:
            typer.echo(render_csv(rows), nl=False)
        elif as_json:
            emit_json(
                {
                    "report": name,
                    "period": filters.period.as_json(),
                    "as_of": day.isoformat(),
                    "log_positions": positions,
                    "rows": rows,
                }
            )
        else:
            console.print(f"{name}, {filters.period.label}, as of {moment.isoformat()} (log at {positions})")
            for row in rows:
                console.print(row)
        return 0

    run(body)
