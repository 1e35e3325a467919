"""One notice: the e-mails one cause (an event, or a morning's agenda) sends, one per person.

Lifecycle per person::

    queued -> sent                  (the mail server accepted it)
    queued -> given up              (retries ran out, the cause passed the horizon,
                                     the person turned the kind off or has no address)

The notice as a whole is claimed by one replica before it sends (``NoticeClaimed``, an
append at the version it read: two replicas cannot both claim it); a claim lapses at
``until``, so a replica that died mid-send leaves it to another. A failed attempt releases
the claim and sets when to try again.
"""

from __future__ import annotations

from datetime import datetime

from baton_shared.contracts import notify as ev
from baton_shared.domain import Aggregate, DomainRuleViolation

QUEUED, SENT, GIVEN_UP = "queued", "sent", "given up"


class Notice(Aggregate):
    aggregate_type = "notice"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.people: dict[str, str] = {}  # person -> queued | sent | given up
        self.kind = ""
        self.subject = ""
        self.body = ""
        self.cause_at: datetime | None = None
        self.claimed_by: str | None = None
        self.claimed_until: datetime | None = None
        self.attempts = 0
        self.retry_at: datetime | None = None

    @property
    def waiting(self) -> list[str]:
        """The people not yet sent to nor given up on."""
        return [p for p, status in self.people.items() if status == QUEUED]

    # --- commands -------------------------------------------------------------------

    def queue(self, notice: ev.NoticeQueued) -> None:
        if notice.person not in self.people:
            self._record(notice)

    def claim(self, by: str, until: datetime, now: datetime) -> bool:
        """Take the notice to send; False when there is nothing to send or another holds it."""
        if not self.waiting:
            return False
        if self.claimed_by not in (None, by) and self.claimed_until is not None and self.claimed_until > now:
            return False
        if self.retry_at is not None and self.retry_at > now:
            return False
        self._record(ev.NoticeClaimed(notice_id=self.id, by=by, until=until, attempt=self.attempts + 1))
        return True

    def sent(self, person: str, at: datetime, message_id: str) -> None:
        self._expect_waiting(person)
        self._record(ev.NoticeSent(notice_id=self.id, person=person, sent_at=at, message_id=message_id))

    def failed(self, error: str, retry_at: datetime) -> None:
        self._record(ev.NoticeFailed(notice_id=self.id, attempt=self.attempts, error=error[:500], retry_at=retry_at))

    def give_up(self, reason: str, person: str | None = None) -> None:
        """Give up on ``person`` (None: everyone still waiting)."""
        for who in [person] if person is not None else self.waiting:
            if self.people.get(who) == QUEUED:
                self._record(ev.NoticeGivenUp(notice_id=self.id, person=who, reason=reason[:500]))

    def _expect_waiting(self, person: str) -> None:
        if self.people.get(person) != QUEUED:
            raise DomainRuleViolation(f"notice {self.id}: nothing waits for {person}")

    # --- state ----------------------------------------------------------------------

    def _on_NoticeQueued(self, e: ev.NoticeQueued) -> None:
        self.people[e.person] = QUEUED
        self.kind, self.subject, self.body, self.cause_at = e.kind, e.subject, e.body, e.cause_at

    def _on_NoticeClaimed(self, e: ev.NoticeClaimed) -> None:
        self.claimed_by, self.claimed_until, self.attempts, self.retry_at = e.by, e.until, e.attempt, None

    def _on_NoticeSent(self, e: ev.NoticeSent) -> None:
        self.people[e.person] = SENT

    def _on_NoticeFailed(self, e: ev.NoticeFailed) -> None:
        self.claimed_by, self.claimed_until, self.retry_at = None, None, e.retry_at

    def _on_NoticeGivenUp(self, e: ev.NoticeGivenUp) -> None:
        self.people[e.person] = GIVEN_UP
