"""Time as an event source for follow-up: re-tiering and dormant clients, recorded once.

Tiers are relative (the top share of clients by revenue), so a newcomer can
move others across the line: each run ranks every client again and records a
new tier only where it changed. A client with no new request for the configured
number of days gets one reactivation follow-up per quiet spell, a review past its date is
recorded overdue once per due date (it counts in the client's health), and a client whose
health puts them at risk one at-risk follow-up per spell. Candidates come
from the read models; the decision and the append go through the relationship
with derived ids, so replicas or a restart never record anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from baton_shared.observability.logging import get_logger

from baton_followup.application import (
    FlagAtRisk,
    FollowupApplication,
    MarkReviewOverdue,
    ScheduleReactivation,
    SetTier,
    at_risk_id,
    reactivation_id,
)
from baton_followup.domain.tiers import rank_tiers
from baton_followup.projections.views import FollowupViews

log = get_logger("baton.followup.planner")


class FollowUpPlanner:
    def __init__(
        self,
        application: FollowupApplication,
        views: FollowupViews,
        reactivation_after_days: int,
        interval_seconds: float = 300.0,
    ) -> None:
        self.application = application
        self.views = views
        self.reactivation_after_days = reactivation_after_days
        self.interval_seconds = interval_seconds

    async def run_once(self) -> dict[str, int]:
        return {
            "retiered": await self.retier(),
            "reactivations": await self.reactivate(),
            "reviews_overdue": await self.mark_reviews_overdue(),
            "at_risk": await self.flag_at_risk(),
        }

    async def retier(self) -> int:
        revenues = dict(await self.views.tier_inputs())
        ranked = rank_tiers(revenues, self.application.policies.tiers)
        current = await self.views.current_tiers()
        changed = 0
        for client_id, (tier, reason) in ranked.items():
            if current.get(client_id) == (tier, revenues[client_id]):
                continue
            with _logged("re-tier", client_id):
                if await self.application.retier(
                    SetTier(client_id=client_id, revenue=revenues[client_id], tier=tier, reason=reason)
                ):
                    changed += 1
                    log.info("client re-tiered", client_id=client_id, tier=tier)
        return changed

    async def reactivate(self) -> int:
        now = self.application.clock()
        dormant = await self.views.dormant_clients(now - timedelta(days=self.reactivation_after_days))
        known = await self.views.existing_follow_ups([reactivation_id(c, quiet) for c, quiet in dormant])
        scheduled = 0
        for client_id, quiet_from in dormant:
            if reactivation_id(client_id, quiet_from) in known:
                continue
            with _logged("reactivation", client_id):
                if await self.application.schedule_reactivation(
                    ScheduleReactivation(
                        client_id=client_id, quiet_from=quiet_from, after_days=self.reactivation_after_days
                    )
                ):
                    scheduled += 1
        return scheduled

    async def mark_reviews_overdue(self) -> int:
        marked = 0
        for client_id, follow_up_id in await self.views.reviews_overdue(self.application.clock().date()):
            with _logged("review overdue", client_id):
                if await self.application.mark_review_overdue(
                    MarkReviewOverdue(client_id=client_id, follow_up_id=follow_up_id)
                ):
                    marked += 1
        return marked

    async def flag_at_risk(self) -> int:
        spells = await self.views.at_risk_spells()
        known = await self.views.existing_follow_ups([at_risk_id(c, since) for c, since, _ in spells])
        scheduled = 0
        for client_id, since, why in spells:
            if at_risk_id(client_id, since) in known:
                continue
            with _logged("at-risk", client_id):
                if await self.application.schedule_at_risk(FlagAtRisk(client_id=client_id, since=since, why=why)):
                    scheduled += 1
        return scheduled

    async def run_forever(self, runtime=None) -> None:  # noqa: ANN001 - the runtime's background-task signature
        while runtime is None or not runtime.stopping:
            with contextlib.suppress(Exception):
                await self.run_once()
            await asyncio.sleep(self.interval_seconds)


@contextlib.contextmanager
def _logged(what: str, client_id: str):
    """One client's failure must not stop the rest of the run."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        log.warning(f"{what} failed", client_id=client_id, error=repr(exc))
