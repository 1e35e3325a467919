"""Time as an event source for complaints: records each missed deadline once, and so escalates.

Candidates come from the complaints read model (a deadline passed by the injected
clock, not yet recorded); the decision and the append go through the client's
relationship with event ids derived from the case, deadline and round, so several
replicas or a restart never record a breach twice.
"""

from __future__ import annotations

import asyncio
import contextlib

from baton_shared.observability.logging import get_logger

from baton_followup.application import FollowupApplication, RecordComplaintBreaches
from baton_followup.projections.complaint_views import ComplaintViews

log = get_logger("baton.followup.complaint_deadlines")


class ComplaintDeadlineScheduler:
    def __init__(self, application: FollowupApplication, views: ComplaintViews, interval_seconds: float = 60.0):
        self.application = application
        self.views = views
        self.interval_seconds = interval_seconds

    async def run_once(self) -> int:
        """Record every newly missed deadline; returns how many were recorded."""
        recorded = 0
        for client_id, complaint_id in await self.views.breach_candidates(self.application.clock()):
            try:
                n = await self.application.record_complaint_breaches(
                    RecordComplaintBreaches(client_id=client_id, complaint_id=complaint_id)
                )
            except Exception as exc:  # noqa: BLE001 - one bad case must not stop the rest
                log.warning("complaint deadline check failed", complaint_id=complaint_id, error=repr(exc))
                continue
            if n:
                recorded += n
                log.info("complaint deadline missed", complaint_id=complaint_id, client_id=client_id, breaches=n)
        return recorded

    async def run_forever(self, runtime=None) -> None:  # noqa: ANN001 - the runtime's background-task signature
        while runtime is None or not runtime.stopping:
            with contextlib.suppress(Exception):
                await self.run_once()
            await asyncio.sleep(self.interval_seconds)
