"""A person's notice preferences: the kinds they turned off (every kind is on until then)."""

from __future__ import annotations

from baton_shared.contracts import notify as ev
from baton_shared.domain import Aggregate, DomainRuleViolation

from baton_notify.domain.notice_kinds import KINDS


class NoticePreferences(Aggregate):
    aggregate_type = "person"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.turned_off: set[str] = set()

    @classmethod
    def missing(cls, aggregate_id: str) -> str:
        return f"no preferences recorded for {aggregate_id}"

    def turn(self, person: str, kind: str, on: bool, by: str) -> None:
        if kind not in KINDS:
            raise DomainRuleViolation(f"no notice kind {kind!r}; the kinds are {', '.join(KINDS)}")
        if on and kind in self.turned_off:
            self._record(ev.NoticeKindTurnedOn(person=person, kind=kind, by=by))
        elif not on and kind not in self.turned_off:
            self._record(ev.NoticeKindTurnedOff(person=person, kind=kind, by=by))

    def _on_NoticeKindTurnedOff(self, e: ev.NoticeKindTurnedOff) -> None:
        self.turned_off.add(e.kind)

    def _on_NoticeKindTurnedOn(self, e: ev.NoticeKindTurnedOn) -> None:
        self.turned_off.discard(e.kind)
