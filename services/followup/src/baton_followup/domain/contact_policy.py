"""The contact policy: may we contact this client now, on this channel, about this?

Pure rules over the relationship's state, used twice with the same code: to
refuse a contact (which is then recorded as a suppression) and to keep the
agenda free of follow-ups the policy would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from baton_shared.contracts.intake import ContactPolicy

WINDOW = timedelta(days=30)
NOTHING_HOLDS = datetime(1970, 1, 1, tzinfo=timezone.utc)
HELD_FOR_GOOD = datetime(9999, 12, 31, tzinfo=timezone.utc)  # until an event changes the policy


@dataclass(frozen=True)
class Refusal:
    code: str  # do_not_contact | stopped | frequency_cap | cool_down | channel | recovery_in_progress
    reason: str


@dataclass
class ContactState:
    policy: ContactPolicy = field(default_factory=ContactPolicy)
    stopped_on: date | None = None  # the client said "stop"; holds until the policy changes
    contacts: list[datetime] = field(default_factory=list)  # every outbound contact made
    cool_downs: dict[str, date] = field(default_factory=dict)  # offer kind -> no such offer before
    recovering: bool = False  # a recovery is open: no offers until it closes (issue 20)

    def contacts_in_window(self, now: datetime) -> list[datetime]:
        return sorted(at for at in self.contacts if now - WINDOW < at <= now)


def refusal(
    state: ContactState, now: datetime, *, channel: str | None = None, offer_kind: str | None = None
) -> Refusal | None:
    """Why the policy refuses this contact, or None when it may go ahead."""
    policy = state.policy
    if policy.do_not_contact:
        return Refusal("do_not_contact", "the client is on do-not-contact: no contact on any channel")
    if state.stopped_on is not None:
        return Refusal(
            "stopped",
            f"the client asked us to stop on {state.stopped_on.isoformat()}: "
            "no contact until their contact policy changes",
        )
    recent = state.contacts_in_window(now)
    if len(recent) >= policy.max_contacts_per_30_days:
        if policy.max_contacts_per_30_days == 0:
            return Refusal("frequency_cap", "the client's policy allows no contacts")
        next_on = (recent[-policy.max_contacts_per_30_days] + WINDOW).date()
        return Refusal(
            "frequency_cap",
            f"{len(recent)} contacts in the last 30 days reach the client's limit of "
            f"{policy.max_contacts_per_30_days}; next contact possible on {next_on.isoformat()}",
        )
    if offer_kind is not None and state.recovering:
        return Refusal(
            "recovery_in_progress", "a recovery is in progress with this client: no offers until it is closed"
        )
    if offer_kind is not None:
        until = state.cool_downs.get(offer_kind)
        if until is not None and now.date() < until:
            return Refusal(
                "cool_down",
                f"the client declined a {offer_kind} offer: no {offer_kind} offer before {until.isoformat()}",
            )
    if channel is not None and policy.preferred_channels and channel not in policy.preferred_channels:
        return Refusal(
            "channel",
            f"the client accepts contact only by {', '.join(policy.preferred_channels)}, not {channel}",
        )
    return None


def contact_allowed_from(state: ContactState) -> datetime:
    """From when ``refusal`` lets a contact that is no offer (and names no channel) go ahead,
    for any moment at or after the last contact made: ``HELD_FOR_GOOD`` while do-not-contact,
    a "stop" or a cap of zero holds, the frequency cap's release when the cap is reached,
    else ``NOTHING_HOLDS``. Kept on the relationship's row, so the agenda filters, orders
    and counts in SQL; offers (recovery, cool-downs) are still decided by ``refusal``."""
    policy = state.policy
    cap = policy.max_contacts_per_30_days
    if policy.do_not_contact or state.stopped_on is not None or cap == 0:
        return HELD_FOR_GOOD
    contacts = sorted(state.contacts)
    if len(contacts) < cap:
        return NOTHING_HOLDS
    return contacts[-cap] + WINDOW
