"""Command handling for notices and notice preferences, through the shared command loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baton_shared.application import Aggregates, Clock, Command, Written, utc_now
from baton_shared.contracts import notify as ev
from baton_shared.domain import NotFound
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import ConcurrencyConflict, EventStore

from baton_notify.domain.notice import Notice
from baton_notify.domain.notice_kinds import person_id
from baton_notify.domain.preferences import NoticePreferences


@dataclass(frozen=True, kw_only=True)
class TurnNoticeKind(Command):
    person: str
    kind: str
    on: bool


class NoticeApplication:
    def __init__(self, store: EventStore, clock: Clock = utc_now, attempts: int = 5) -> None:
        self.aggregates = Aggregates(store, attempts, clock=clock)
        self.clock = clock

    async def turn(self, cmd: TurnNoticeKind) -> Written:
        """Turn a kind of notice on or off for a person (their first choice creates their preferences)."""
        pid = person_id(cmd.person)

        def decide(preferences: NoticePreferences) -> None:
            preferences.turn(cmd.person, cmd.kind, cmd.on, cmd.actor)

        try:
            return await self.aggregates.update(NoticePreferences, pid, cmd, decide)
        except NotFound:
            pass  # no choice recorded yet
        fresh = NoticePreferences(pid)
        decide(fresh)
        if not fresh.pending:
            return self.aggregates.written({"person_id": pid}, 0, 0)
        try:
            return await self.aggregates.create(NoticePreferences, pid, cmd, lambda: fresh)
        except ConcurrencyConflict:  # made a moment ago (a second tab, a replica): decide on what is there
            return await self.aggregates.update(NoticePreferences, pid, cmd, decide)

    async def queue_digest(self, notice_id: str, queued: ev.NoticeQueued) -> bool:
        """Queue one person's digest for a day; False when it is queued already (a restart, a replica)."""
        notice = Notice(notice_id)
        notice.queue(queued)
        try:
            await self.aggregates.create(Notice, notice_id, Command(actor="notify:digest"), lambda: notice)
        except ConcurrencyConflict:
            return False
        return True

    async def claim(self, notice_id: str, by: str, until: datetime) -> Notice | None:
        """The notice, claimed by ``by``; None when nothing waits or another replica holds it."""
        written = await self.aggregates.update(
            Notice, notice_id, Command(actor=by), lambda n: n.claim(by, until, self.clock())
        )
        if not written.outcome:
            return None
        return await self.aggregates.get(Notice, notice_id)

    async def sent(self, notice_id: str, person: str, at: datetime, message_id: str) -> Written:
        return await self.aggregates.update(
            Notice,
            notice_id,
            Command(actor="notify:outbox"),
            lambda n: n.sent(person, at, message_id),
            event_ids=lambda n, i: derived_event_id(notice_id, f"sent:{person}"),
        )

    async def failed(self, notice_id: str, error: str, retry_at: datetime) -> Written:
        return await self.aggregates.update(
            Notice, notice_id, Command(actor="notify:outbox"), lambda n: n.failed(error, retry_at)
        )

    async def give_up(self, notice_id: str, reason: str, person: str | None = None) -> Written:
        return await self.aggregates.update(
            Notice, notice_id, Command(actor="notify:outbox"), lambda n: n.give_up(reason, person)
        )
