"""A report over the live fact projections, as the API and the warmer ask for it: its key,
its computation and the fact projections' positions it starts from."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date

from baton_followup.reports.figures import REPORTS, Facts, Filters, Period, Rows
from baton_followup.reports.snapshots import Compute, Positions

PROJECTIONS = {
    "intake": "reports_from_intake",
    "delivery": "reports_from_delivery",
    "followup": "reports_from_followup",
}


def computation(runtime, facts: Facts, name: str, filters: Filters) -> tuple[Hashable, Compute, Positions]:  # noqa: ANN001
    async def compute() -> Rows:
        async with runtime.engine.connect() as conn:
            return await REPORTS[name].rows(conn, facts, filters)

    def positions() -> dict[str, int]:
        return {stream: runtime.projections[key].position for stream, key in PROJECTIONS.items()}

    return (name, filters), compute, positions


def this_month(runtime, facts: Facts, today: Callable[[], date], rotation_warning_changes: int):  # noqa: ANN001, ANN201
    """Every report for this month, unfiltered: what the head opens first."""

    def usual() -> dict[Hashable, tuple[Compute, Positions]]:
        day = today()
        filters = Filters(Period.parse(None, day), day, None, None, rotation_warning_changes)
        found = {}
        for name in REPORTS:
            key, compute, positions = computation(runtime, facts, name, filters)
            found[key] = (compute, positions)
        return found

    return usual
