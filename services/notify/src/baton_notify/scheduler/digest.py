"""The morning digest: once a day, in the hours from ``notices_digest_hour`` (in
``notices_timezone``) to ``notices_digest_until_hour``, each account manager with an address
and the digest on is sent what their clients have due today or overdue. Nothing due: no mail,
and the manager is looked at again next round (the agenda may still be catching up). One
notice per manager and day, its id derived from both, so a restart or a second replica
queues it once."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo

from baton_shared.contracts import notify as ev
from baton_shared.events.envelope import derived_event_id
from baton_shared.observability.logging import get_logger
from baton_shared.service.access import ACCOUNT_MANAGER

from baton_notify.application.notices import NoticeApplication
from baton_notify.domain.notice_kinds import AGENDA_DIGEST
from baton_notify.domain.notice_texts import digest
from baton_notify.notices.people import Directory
from baton_notify.projections.notice_views import NoticeViews
from baton_notify.settings import NotifySettings

log = get_logger("baton.notify.digest")
CHECK_SECONDS = 60.0


def digest_id(manager: str, day: date) -> str:
    return derived_event_id(f"digest:{manager}", day.isoformat())


class MorningDigest:
    def __init__(
        self,
        application: NoticeApplication,
        views: NoticeViews,
        directory: Directory,
        settings: NotifySettings,
        clock,  # noqa: ANN001 - the service's Clock
    ) -> None:
        self.application, self.views, self.directory, self.s, self.clock = (
            application,
            views,
            directory,
            settings,
            clock,
        )
        self.zone = ZoneInfo(settings.notices_timezone)
        self.done: set[tuple[str, date]] = set()  # queued (or found queued) by this process

    async def run_forever(self, runtime) -> None:  # noqa: ANN001 - the ServiceRuntime
        while not runtime.stopping:
            try:
                await self.queue_due()
            except Exception as exc:  # noqa: BLE001 - logged; the next check tries again
                log.error("queueing the morning digests failed", error=repr(exc)[:300])
            await asyncio.sleep(CHECK_SECONDS)

    async def queue_due(self) -> int:
        """Queue today's digests if the hour has come; how many this call queued."""
        now = self.clock()
        local = now.astimezone(self.zone)
        if not self.s.notices_digest_hour <= local.hour < self.s.notices_digest_until_hour:
            return 0
        today = local.date()
        queued = 0
        for manager in self.directory.with_role(ACCOUNT_MANAGER):
            if (manager, today) in self.done or not self.directory.address_of(manager):
                continue
            if AGENDA_DIGEST in await self.views.turned_off(manager):
                continue
            items = await self.views.agenda_of(manager, today)
            if items:
                queued += await self._queue(manager, today, items, now)
                self.done.add((manager, today))
        return queued

    async def _queue(self, manager: str, today: date, items: list[dict], now: datetime) -> int:
        notice_id = digest_id(manager, today)
        subject, body = digest(manager, today, items, self.s.notices_console_url)
        made = await self.application.queue_digest(
            notice_id,
            ev.NoticeQueued(
                notice_id=notice_id,
                person=manager,
                kind=AGENDA_DIGEST,
                cause_id=f"digest:{manager}:{today.isoformat()}",
                cause_at=now,
                subject=subject,
                body=body,
            ),
        )
        return int(made)
