"""Time as an event source for follow-up: re-tiering and dormant clients, recorded once.

Tiers are relative (the top share of clients by revenue), so a newcomer can
move others across the line: each run ranks every client again and records a
new tier only where it changed. A client with no new request for the configured
number of days gets one reactivation follow-up per quiet spell, a review past its date is
recorded overdue once per due date (it counts in the client's health), and a client whose
health puts them at risk one at-risk follow-up per spell. Candidates come
from the read models, once they are current with the log (one behind it would show
a client who asked last week as dormant); the decision and the append go through the
relationship with derived ids, so replicas or a restart never record anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

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

T = TypeVar("T")
IN_FLIGHT = 8  # commands at once: a first pass on a large log has thousands to record
REVIEWS_PER_PAGE = 1000  # overdue reviews read at a time
# A client looks dormant to a read model behind the log: a pass waits until they are current.
READ_MODELS_WAIT_SECONDS = 10.0


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
        self.passes = 0
        self.running = False
        self.waiting = False  # for the read models to catch up with the log
        self.last_pass: dict[str, Any] | None = None

    async def run_once(self) -> dict[str, int]:
        started, t = self.application.clock(), time.monotonic()
        self.running = True
        try:
            counts = {
                "retiered": await self.retier(),
                "reactivations": await self.reactivate(),
                "reviews_overdue": await self.mark_reviews_overdue(),
                "at_risk": await self.flag_at_risk(),
            }
        except Exception as exc:
            self.last_pass = {"started_at": started.isoformat(), "error": repr(exc)[:300]}
            raise
        finally:
            self.running = False
            self.passes += 1
        self.last_pass = {"started_at": started.isoformat(), "seconds": round(time.monotonic() - t, 3), **counts}
        return counts

    def status(self) -> dict[str, Any]:
        """For /health: whether a pass runs (or waits for the read models) now, how many ran, and
        what the last one recorded."""
        return {
            "name": "planner",
            "running": self.running,
            "waiting_for_read_models": self.waiting,
            "passes": self.passes,
            "last_pass": self.last_pass,
        }

    async def retier(self) -> int:
        revenues = dict(await self.views.tier_inputs())
        ranked = rank_tiers(revenues, self.application.policies.tiers)
        current = await self.views.current_tiers()

        async def retier(client_id: str) -> bool:
            tier, reason = ranked[client_id]
            with _logged("re-tier", client_id):
                if await self.application.retier(
                    SetTier(client_id=client_id, revenue=revenues[client_id], tier=tier, reason=reason)
                ):
                    log.info("client re-tiered", client_id=client_id, tier=tier)
                    return True
            return False

        return await _each((c for c, (tier, _) in ranked.items() if current.get(c) != (tier, revenues[c])), retier)

    async def reactivate(self) -> int:
        now = self.application.clock()
        dormant = await self.views.dormant_clients(now - timedelta(days=self.reactivation_after_days))
        known = await self.views.existing_follow_ups([reactivation_id(c, quiet) for c, quiet in dormant])

        async def schedule(spell: tuple[str, Any]) -> bool:
            client_id, quiet_from = spell
            with _logged("reactivation", client_id):
                return await self.application.schedule_reactivation(
                    ScheduleReactivation(
                        client_id=client_id, quiet_from=quiet_from, after_days=self.reactivation_after_days
                    )
                )
            return False

        return await _each((s for s in dormant if reactivation_id(*s) not in known), schedule)

    async def mark_reviews_overdue(self) -> int:
        async def mark(review: tuple[str, str, Any]) -> bool:
            client_id, follow_up_id, _ = review
            with _logged("review overdue", client_id):
                return await self.application.mark_review_overdue(
                    MarkReviewOverdue(client_id=client_id, follow_up_id=follow_up_id)
                )
            return False

        today, marked, after = self.application.clock().date(), 0, None
        while page := await self.views.reviews_overdue(today, REVIEWS_PER_PAGE, after):
            marked += await _each(page, mark)
            after = page[-1][2], page[-1][1]  # every page of a backlog in one pass, without waiting
        return marked

    async def flag_at_risk(self) -> int:
        spells = await self.views.at_risk_spells()
        known = await self.views.existing_follow_ups([at_risk_id(c, since) for c, since, _ in spells])

        async def flag(spell: tuple[str, Any, str]) -> bool:
            client_id, since, why = spell
            with _logged("at-risk", client_id):
                return await self.application.schedule_at_risk(FlagAtRisk(client_id=client_id, since=since, why=why))
            return False

        return await _each((s for s in spells if at_risk_id(s[0], s[1]) not in known), flag)

    async def run_forever(self, runtime=None) -> None:  # noqa: ANN001 - the runtime's background-task signature
        while runtime is None or not runtime.stopping:
            if runtime is not None and not await runtime.read_models_current(READ_MODELS_WAIT_SECONDS):
                if not self.waiting:
                    log.info("planner waits for the read models to catch up with the log")
                self.waiting = True
                await asyncio.sleep(1.0)
                continue
            self.waiting = False
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                log.warning("planner pass failed", error=repr(exc)[:300])
            await asyncio.sleep(self.interval_seconds)


async def _each(items: Iterable[T], step: Callable[[T], Awaitable[bool]], in_flight: int = IN_FLIGHT) -> int:
    """``step`` on every item, ``in_flight`` at a time; how many recorded something. Two items of
    one client (two overdue reviews) may meet: the later append is decided again, as any command's."""
    pending = iter(items)
    recorded = 0

    async def worker() -> None:
        nonlocal recorded
        for item in pending:
            if await step(item):  # awaited first: ``recorded += await ...`` would read it before
                recorded += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return recorded


@contextlib.contextmanager
def _logged(what: str, client_id: str):
    """One client's failure must not stop the rest of the run."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        log.warning(f"{what} failed", client_id=client_id, error=repr(exc))
