"""Notices queued from delivery's and follow-up's events: one notice per cause (its id derived
from the cause), a ``NoticeQueued`` per person it concerns who has an address and has not
turned its kind off. A cause older than the horizon (a consumer started over, a replay)
queues nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton_shared.contracts import STREAMS
from baton_shared.contracts import notify as ev
from baton_shared.events.envelope import DomainEvent, RecordedEvent, derived_event_id
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import CauseNotReady, Reaction

from baton_notify.domain.notice_texts import concerns, words
from baton_notify.notices.people import Directory


@dataclass(frozen=True)
class Recipients:
    people: tuple[str, ...]
    subject: str
    body: str
    kind: str


def notice_id_of(cause_id: str) -> str:
    return derived_event_id(cause_id, "notice")


class NoticesOn(Reaction):
    def __init__(
        self, directory: Directory, views, horizon: timedelta, console_url: str | None, clock: Callable[[], datetime]
    ) -> None:
        self.directory, self.views, self.horizon, self.console_url, self.clock = (
            directory,
            views,
            horizon,
            console_url,
            clock,
        )

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        if cause.event is None or concerns(cause.event) is None:
            return None
        return ("notice", notice_id_of(cause.envelope.event_id))

    async def context(self, cause: RecordedEvent) -> Recipients | None:
        if cause.envelope.occurred_at < self.clock() - self.horizon:
            return None  # too old to tell anyone now
        telling = concerns(cause.event)
        client_id = cause.event.client_id
        account = await self.views.account(client_id)
        if account is None:
            raise CauseNotReady(f"client {client_id}: intake's ClientRegistered not projected in notify yet")
        people: list[str] = []
        if telling.department is not None:
            people += self.directory.members_of(telling.department)
        if telling.department is None:
            people.append(telling.account_manager or account["account_manager"])
        if telling.escalated_to_role is not None:
            people += self.directory.with_role(telling.escalated_to_role)
        people = [p for p in dict.fromkeys(people) if self.directory.address_of(p)]
        turned_off = await self.views.turned_off_by(people)
        people = [p for p in people if telling.kind not in turned_off.get(p, set())]
        subject, body = words(cause.event, account["name"], self.console_url)
        return Recipients(tuple(people), subject, body, telling.kind)

    def decide(
        self, history: AggregateHistory, cause: RecordedEvent, context: Recipients | None = None
    ) -> list[DomainEvent]:
        if context is None or not context.people or history.events:
            return []
        notice_id = notice_id_of(cause.envelope.event_id)
        return [
            ev.NoticeQueued(
                notice_id=notice_id,
                person=person,
                kind=context.kind,
                cause_id=cause.envelope.event_id,
                cause_at=cause.envelope.occurred_at,
                subject=context.subject,
                body=context.body,
                client_id=cause.event.client_id,
            )
            for person in context.people
        ]


class NoticesOnDelivery(NoticesOn):
    name = "notices_on_delivery"
    source = STREAMS["delivery"]
    event_types = (
        "WorkOrderOpened",
        "ChangeAttached",
        "WorkOrderOverdue",
        "WorkOrderBlocked",
        "RequestReadyForHandover",
    )


class NoticesOnFollowup(NoticesOn):
    name = "notices_on_followup"
    source = STREAMS["followup"]
    event_types = ("RecoveryOpened", "ComplaintOpened", "ComplaintDeadlineBreached")
