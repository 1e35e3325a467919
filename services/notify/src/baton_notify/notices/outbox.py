"""The outbox: sends the notices that wait, once each.

Each round takes the notices someone waits for (notify's ``notices`` projection), claims each
one in the log (an append at the version read: of two replicas, one claims it), and sends it
to each person still waiting: given up instead when its cause passed the horizon, the person
turned its kind off or has no address. Each acceptance by the mail server is recorded
(``NoticeSent``, its id derived from the notice and the person, so it is stored once); a
failure releases the claim with a retry time (exponential backoff with jitter) until
``notices_retry_for_seconds`` from the cause, then the notice is given up.

At least once: a replica that dies after the server accepted a mail and before recording it
leaves the notice to be sent again when its claim lapses, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta

from baton_shared.domain import DomainRuleViolation
from baton_shared.events.envelope import derived_event_id
from baton_shared.observability.logging import get_logger
from baton_shared.projections.sql import stored_utc

from baton_notify.application.notices import NoticeApplication
from baton_notify.deliveries.deliverer import backoff
from baton_notify.notices.mail import Mailer, MailRefused
from baton_notify.notices.people import Directory
from baton_notify.projections.notice_views import NoticeViews
from baton_notify.settings import NotifySettings

log = get_logger("baton.notify.outbox")
BATCH = 50


class Outbox:
    def __init__(
        self,
        application: NoticeApplication,
        views: NoticeViews,
        directory: Directory,
        mailer: Mailer,
        settings: NotifySettings,
        clock,  # noqa: ANN001 - the service's Clock
    ) -> None:
        self.application, self.views, self.directory, self.mailer = application, views, directory, mailer
        self.s, self.clock = settings, clock
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.sent = 0

    async def run_forever(self, runtime) -> None:  # noqa: ANN001 - the ServiceRuntime
        while not runtime.stopping:
            try:
                busy = await self.send_waiting()
            except Exception as exc:  # noqa: BLE001 - logged; the next round tries again
                log.error("sending notices failed", error=repr(exc)[:300])
                busy = False
            if not busy:
                await asyncio.sleep(self.s.notices_poll_seconds)

    async def send_waiting(self) -> bool:
        """One round; True when it found notices (there may be more)."""
        waiting = await self.views.waiting(self.clock(), BATCH)
        for notice_id in waiting:
            await self.send_one(notice_id)
        return len(waiting) == BATCH

    async def send_one(self, notice_id: str) -> None:
        now = self.clock()
        notice = await self.application.claim(notice_id, self.me, now + timedelta(seconds=self.s.notices_claim_seconds))
        if notice is None:
            return  # sent, given up, held by another replica, or not due yet
        horizon = timedelta(seconds=self.s.notices_horizon_seconds)
        if notice.cause_at is not None and stored_utc(notice.cause_at) < now - horizon:
            await self.application.give_up(notice_id, "its cause passed the horizon before it could be sent")
            return
        for person in notice.waiting:
            address = self.directory.address_of(person)
            if address is None:
                await self.application.give_up(notice_id, f"{person} has no e-mail address", person)
                continue
            if notice.kind in await self.views.turned_off(person):
                await self.application.give_up(notice_id, f"{person} turned {notice.kind} off", person)
                continue
            message_id = derived_event_id(notice_id, f"mail:{person}")
            try:
                await self.mailer.send(address, notice.subject, notice.body, message_id, self.clock())
            except MailRefused as exc:
                await self._failed(notice, str(exc))
                return
            try:
                await self.application.sent(notice_id, person, self.clock(), message_id)
                self.sent += 1
            except DomainRuleViolation:
                pass  # recorded already (another replica after our claim lapsed)

    async def _failed(self, notice, error: str) -> None:  # noqa: ANN001 - a Notice
        now = self.clock()
        cause_at = stored_utc(notice.cause_at) if notice.cause_at else now
        if now - cause_at >= timedelta(seconds=self.s.notices_retry_for_seconds):
            log.warning("notice given up: retries ran out", notice_id=notice.id, error=error)
            await self.application.give_up(notice.id, f"retries ran out: {error}")
            return
        delay = backoff(notice.attempts, self.s.notices_backoff_first_seconds, self.s.notices_backoff_max_seconds)
        log.info("notice not sent; retried later", notice_id=notice.id, error=error, delay=round(delay, 1))
        await self.application.failed(notice.id, error, now + timedelta(seconds=delay))
