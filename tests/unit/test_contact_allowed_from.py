"""The moment a relationship's row keeps for the agenda's SQL agrees with the policy itself."""

from datetime import date, datetime, timedelta, timezone

from baton_shared.contracts.intake import ContactPolicy
from hypothesis import given, settings
from hypothesis import strategies as st

from baton_followup.domain.contact_policy import (
    HELD_FOR_GOOD,
    NOTHING_HOLDS,
    WINDOW,
    ContactState,
    contact_allowed_from,
    refusal,
)

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
moments = st.integers(min_value=0, max_value=120 * 86400).map(lambda s: T0 + timedelta(seconds=s))


@st.composite
def states(draw) -> ContactState:
    policy = ContactPolicy(
        do_not_contact=draw(st.booleans()) and draw(st.booleans()),
        max_contacts_per_30_days=draw(st.integers(min_value=0, max_value=6)),
    )
    contacts = draw(st.lists(moments, max_size=12))
    stopped = draw(st.sampled_from([None, None, None, date(2026, 3, 2)]))
    return ContactState(policy=policy, stopped_on=stopped, contacts=contacts)


@settings(max_examples=500, deadline=None)
@given(states(), st.integers(min_value=0, max_value=90 * 86400))
def test_refused_exactly_until_the_kept_moment(state, after_last):
    last = max(state.contacts, default=T0)
    now = last + timedelta(seconds=after_last)  # the agenda asks SQL only at or after the last contact
    assert (refusal(state, now) is not None) == (now < contact_allowed_from(state))


def test_the_kept_moments():
    cap_two = ContactPolicy(max_contacts_per_30_days=2)
    assert contact_allowed_from(ContactState(policy=cap_two, contacts=[T0])) == NOTHING_HOLDS
    reached = ContactState(policy=cap_two, contacts=[T0 + timedelta(days=3), T0, T0 + timedelta(days=1)])
    released = contact_allowed_from(reached)
    assert released == T0 + timedelta(days=1) + WINDOW  # the second latest leaves the window
    assert refusal(reached, released - timedelta(microseconds=1)) is not None and refusal(reached, released) is None
    assert contact_allowed_from(ContactState(policy=ContactPolicy(do_not_contact=True))) == HELD_FOR_GOOD
    assert contact_allowed_from(ContactState(stopped_on=date(2026, 3, 2))) == HELD_FOR_GOOD
    assert contact_allowed_from(ContactState(policy=ContactPolicy(max_contacts_per_30_days=0))) == HELD_FOR_GOOD
