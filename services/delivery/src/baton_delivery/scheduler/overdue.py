"""Time as an event source: finds work orders past their due date and records it, once.

Candidates come from the work-orders read model (live, not yet overdue, due
before today by the injected clock); the decision and the append go through the
aggregate with a derived event id, so several replicas or a restart never record
a work order overdue twice.
"""

from __future__ import annotations

import asyncio
import contextlib

from baton_shared.observability.logging import get_logger

from baton_delivery.application import DeliveryApplication, MarkOverdue
from baton_delivery.projections.views import DeliveryViews

log = get_logger("baton.delivery.overdue")


class OverdueScheduler:
    def __init__(self, application: DeliveryApplication, views: DeliveryViews, interval_seconds: float = 60.0):
        self.application = application
        self.views = views
        self.interval_seconds = interval_seconds

    async def run_once(self) -> int:
        """Record every newly overdue work order; returns how many were recorded."""
        today = self.application.clock().date()
        recorded = 0
        for request_id, work_order_id in await self.views.overdue_candidates(today):
            try:
                if await self.application.mark_overdue(MarkOverdue(request_id=request_id, work_order_id=work_order_id)):
                    recorded += 1
                    log.info("work order overdue", work_order_id=work_order_id, request_id=request_id)
            except Exception as exc:  # noqa: BLE001 - one bad work order must not stop the rest
                log.warning("overdue check failed", work_order_id=work_order_id, error=repr(exc))
        return recorded

    async def run_forever(self, runtime=None) -> None:  # noqa: ANN001 - the runtime's background-task signature
        while runtime is None or not runtime.stopping:
            with contextlib.suppress(Exception):
                await self.run_once()
            await asyncio.sleep(self.interval_seconds)
