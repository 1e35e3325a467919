"""A report as the log stood at a moment: the three fact projections copied as of that
moment (each stream cut at its last event stored by then), the report computed from the
copies, the copies dropped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from baton_shared.contracts import registry, stream_for
from baton_shared.projections.rebuild import point_in_time
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_followup.projections.report_facts import REPORT_PROJECTIONS
from baton_followup.reports.figures import REPORTS, Facts, Filters


async def report_at(
    nc,
    engine: AsyncEngine,
    name: str,
    filters: Filters,
    position_of: Callable[[str], Awaitable[int]],
) -> tuple[list[dict], dict[str, int]]:
    """The report's rows from copies of the facts at ``position_of(stream)``, and those positions."""
    copies, positions = [], {}
    try:
        for make in REPORT_PROJECTIONS:
            spec = stream_for(make.source or "followup")
            positions[spec.name] = until = await position_of(spec.name)
            copies.append(await point_in_time("followup", make, engine, nc, spec, registry, until))
        facts = Facts(*(copy.copy for copy in copies))
        async with engine.connect() as conn:
            return await REPORTS[name].compute(conn, facts, filters), positions
    finally:
        for copy in copies:
            await copy.discard()
