"""One voice per person: checks beyond one account's own contact policy.

- An account managed by someone else (an agency, another team) gets no outreach from us.
- Accounts in one contact group (one person behind several accounts, or a parent
  organisation) share one policy: any account's do-not-contact or "stop" holds for all,
  and the group's contacts in 30 days count against the strictest cap of its accounts.
  The slot is taken on the ``ContactGroup`` aggregate with an optimistic append, so two
  managers of two accounts racing for the last slot cannot both have it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from baton_shared.contracts import followup as ev
from baton_shared.domain import Aggregate

from baton_followup.domain.contact_policy import WINDOW, ContactState, Refusal


def managed_elsewhere(managed_by: str | None) -> Refusal | None:
    """Refused when someone else manages the account."""
    if managed_by is None:
        return None
    return Refusal("managed_elsewhere", f"the account is managed by {managed_by}: no outreach from us")


@dataclass(frozen=True)
class Slot:
    client_id: str
    contact_id: str
    account_manager: str
    taken_at: datetime


class ContactGroup(Aggregate):
    aggregate_type = "contact_group"

    @classmethod
    def missing(cls, aggregate_id: str) -> str:
        return f"contact group {aggregate_id} not found"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.members: list[str] = []
        self.slots: list[Slot] = []

    @property
    def exists(self) -> bool:
        return True  # named by its accounts: a slot may be taken before the first join is recorded

    def join(self, client_id: str) -> None:
        if client_id not in self.members:
            self._record(ev.ContactGroupJoined(client_id=client_id, group_id=self.id))

    def holds(self, contact_id: str) -> bool:
        return any(s.contact_id == contact_id for s in self.slots)

    def take(
        self, client_id: str, contact_id: str, account_manager: str, now: datetime, accounts: Mapping[str, ContactState]
    ) -> Refusal | None:
        """Take a contact slot for ``client_id``, or say why the group refuses it (naming the
        other account). ``accounts``: the contact state of the group's accounts, this one too."""
        if self.holds(contact_id):
            return None  # a retry: the slot is this contact's already
        refused = group_refusal(self.slots, client_id, now, accounts)
        if refused is None:
            self._record(
                ev.GroupContactTaken(
                    client_id=client_id,
                    group_id=self.id,
                    contact_id=contact_id,
                    account_manager=account_manager,
                    taken_at=now,
                )
            )
        return refused

    def _on_ContactGroupJoined(self, e: ev.ContactGroupJoined) -> None:
        self.members.append(e.client_id)

    def _on_GroupContactTaken(self, e: ev.GroupContactTaken) -> None:
        self.slots.append(Slot(e.client_id, e.contact_id, e.account_manager, e.taken_at))


def group_refusal(
    slots: list[Slot], client_id: str, now: datetime, accounts: Mapping[str, ContactState]
) -> Refusal | None:
    """Why the group refuses a contact of ``client_id`` now, or None."""
    for other, state in accounts.items():
        if other == client_id:
            continue
        if state.policy.do_not_contact:
            return Refusal(
                "do_not_contact",
                f"account {other} of the same contact group is on do-not-contact: no contact on any of its accounts",
            )
        if state.stopped_on is not None:
            return Refusal(
                "stopped",
                f"we were asked to stop on {state.stopped_on.isoformat()} on account {other} of the same contact "
                "group: no contact on any of its accounts until that account's policy changes",
            )
    caps = [state.policy.max_contacts_per_30_days for state in accounts.values()]
    cap = min(caps) if caps else None
    recent = sorted((s for s in slots if now - WINDOW < s.taken_at <= now), key=lambda s: s.taken_at)
    if cap is not None and len(recent) >= cap:
        if not recent:
            return Refusal("frequency_cap", "the group's policy allows no contacts")
        last = recent[-1]
        next_on = (recent[-cap].taken_at + WINDOW).date() if cap else None
        return Refusal(
            "frequency_cap",
            f"{len(recent)} contacts in the last 30 days in this contact group reach its limit of {cap}; "
            f"the last by {last.account_manager} on account {last.client_id} on {last.taken_at.date().isoformat()}"
            + (f"; next contact possible on {next_on.isoformat()}" if next_on else ""),
        )
    return None
