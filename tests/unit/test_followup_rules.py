"""Follow-up's rules, without I/O: the contact policy, tiers, program dates and fees,
the catalogue of next needs, and the relationship's decisions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.domain import DomainRuleViolation
from baton_followup import catalogue
from baton_followup.domain import (
    ContactState, NextNeedRule, ProgramTerms, Relationship, TierRules, monthly_fee, next_needs, program_dates, refusal, tier_for,
)
from baton_followup.domain.tiers import rank_tiers

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
RULE = NextNeedRule("house-furniture", "furniture", "Furnish the house", "new houses need furniture", ("construction",), ("house",), 30)


def test_the_policy_allows_a_client_with_room_under_the_cap():
    assert refusal(ContactState(contacts=[NOW - timedelta(days=2)]), NOW) is None


def test_do_not_contact_refuses_every_channel():
    state = ContactState(policy=ContactPolicy(do_not_contact=True))
    for channel in ("phone", "email", "sms", None):
        assert refusal(state, NOW, channel=channel).code == "do_not_contact"


def test_a_stop_refuses_until_the_policy_changes():
    r = refusal(ContactState(stopped_on=date(2026, 11, 1)), NOW)
    assert r.code == "stopped" and "2026-11-01" in r.reason


def test_the_frequency_cap_counts_the_last_30_days_and_says_when_the_next_contact_is_possible():
    policy = ContactPolicy(max_contacts_per_30_days=2)
    old = NOW - timedelta(days=31)
    assert refusal(ContactState(policy=policy, contacts=[old, old, NOW - timedelta(days=1)]), NOW) is None
    r = refusal(ContactState(policy=policy, contacts=[NOW - timedelta(days=20), NOW - timedelta(days=1)]), NOW)
    assert r.code == "frequency_cap"
    assert (NOW - timedelta(days=20) + timedelta(days=30)).date().isoformat() in r.reason


def test_a_cool_down_refuses_offers_of_the_declined_kind_only():
    state = ContactState(cool_downs={"furniture": date(2027, 1, 1)})
    assert refusal(state, NOW, offer_kind="furniture").code == "cool_down"
    assert refusal(state, NOW, offer_kind="landscaping") is None
    assert refusal(state, NOW) is None
    assert refusal(state, datetime(2027, 1, 1, tzinfo=timezone.utc), offer_kind="furniture") is None


def test_preferred_channels_refuse_other_channels():
    state = ContactState(policy=ContactPolicy(preferred_channels=("email",)))
    assert refusal(state, NOW, channel="phone").code == "channel"
    assert refusal(state, NOW, channel="email") is None


def test_key_accounts_are_the_top_fifth_by_revenue_or_above_the_threshold():
    rules = TierRules(key_share=0.2, key_revenue_threshold=Decimal("5000000"))
    revenues = [Decimal(n * 100_000) for n in range(1, 10)]  # 9 others, 10 clients: 2 key seats
    assert tier_for(Decimal("950000"), revenues, rules)[0] == "key"  # the top
    assert tier_for(Decimal("850000"), revenues, rules)[0] == "key"  # ties the 9th of the others: 2nd
    assert tier_for(Decimal("750000"), revenues, rules)[0] == "standard"
    assert tier_for(Decimal("6000000"), [Decimal("9e9")] * 20, rules)[0] == "key"  # threshold
    assert tier_for(None, revenues, rules)[0] == "standard"
    assert tier_for(Decimal("100"), [], rules)[0] == "standard"  # too few clients to rank


def test_ranking_everyone_at_once_agrees_with_ranking_one_at_a_time():
    rules = TierRules(key_revenue_threshold=None)
    revenues = {f"c{n}": Decimal((n * 7919) % 1000) for n in range(40)} | {"none": None}
    ranked = rank_tiers(revenues, rules)
    for client_id, revenue in revenues.items():
        others = [r for c, r in revenues.items() if c != client_id]
        assert ranked[client_id] == tier_for(revenue, others, rules)
    assert sum(t == "key" for t, _ in ranked.values()) == 8


def test_program_dates_follow_the_terms_across_month_ends():
    dates = program_dates(date(2026, 8, 31), ProgramTerms(6, 12, 30))
    assert dates.minimum_term_ends_on == date(2027, 2, 28)
    assert dates.ends_on == date(2027, 8, 31)
    assert dates.notice_deadline == date(2027, 8, 1)
    with pytest.raises(ValueError):
        ProgramTerms(13, 12, 30)


def test_the_monthly_fee_follows_the_revenue_tier():
    tiers = catalogue.fee_tiers()
    assert monthly_fee(Decimal("999999.99"), tiers) == Decimal("2500")
    assert monthly_fee(Decimal("1000000"), tiers) == Decimal("3500")
    assert monthly_fee(Decimal("25000000"), tiers) == Decimal("5000")


def test_the_shipped_catalogue_loads_and_matches_a_house():
    rules = catalogue.next_need_rules()
    kinds = {r.kind for r in next_needs(rules, ["construction"], "Build a family house")}
    assert {"furniture", "landscaping"} <= kinds
    assert next_needs(rules, ["finance"], "annual audit") == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[[rule]]\nid='a'\n", "missing or bad field"),
        ("[[rule]]\nid='a'\nkind='k'\ntitle='t'\nreason='r'\n", "needs departments or keywords"),
        ("rule = 1", "needs at least one"),
        ("[[rule", "Expected"),
    ],
)
def test_a_bad_catalogue_is_refused_with_the_file_and_entry_named(tmp_path, text, error):
    path = tmp_path / "next.toml"
    path.write_text(text)
    with pytest.raises(catalogue.CatalogueError, match=error) as info:
        catalogue.next_need_rules(path)
    assert str(path) in str(info.value)


def relationship(*events: ev.FollowupEvent) -> Relationship:
    r = Relationship.rebuild("c1", ((n, e) for n, e in enumerate(events, 1)))
    return r


def started(**policy) -> Relationship:
    return relationship(
        ev.RelationshipStarted(client_id="c1", client_name="Acme", account_manager="alice", contact_policy=ContactPolicy(**policy)),
        ev.FollowUpScheduled(client_id="c1", follow_up_id="f1", kind="review", due_on=date(2026, 11, 20), reason="r"),
    )


def test_a_refused_contact_is_recorded_as_a_suppression_and_nothing_else():
    r = started(do_not_contact=True)
    refused = r.record_contact("k1", "f1", channel="phone", outcome="reached", note="", now=NOW, by="alice", next_review_id="f2")
    assert refused.code == "do_not_contact"
    assert [type(e).__name__ for e in r.pending] == ["ContactSuppressed"]
    assert r.follow_ups["f1"].status == "open"


def test_a_review_done_schedules_the_next_on_the_cadence():
    r = started()
    r._apply(ev.ClientTiered(client_id="c1", tier="key", review_every_days=30, annual_revenue=None, reason="r"))
    assert r.record_contact("k1", "f1", channel="phone", outcome="reached", note="", now=NOW, by="a", next_review_id="f2") is None
    assert r.follow_ups["f1"].status == "done"
    assert r.follow_ups["f2"].due_on == NOW.date() + timedelta(days=30)


def test_a_stop_blocks_everything_until_the_policy_changes():
    r = started()
    r.record_contact("k1", "f1", channel="phone", outcome="stop", note="", now=NOW, by="a", next_review_id="f2")
    assert r.refusal(NOW + timedelta(days=400)).code == "stopped"
    r.adopt_policy(ContactPolicy())
    assert r.refusal(NOW) is None


def test_a_declined_offer_cools_down_its_kind_and_a_won_one_gets_an_outcome_review():
    r = started()
    r.identify("o1", RULE, "q1", "f-offer", NOW.date())
    assert r.offer("o1", "k1", "phone", "", NOW, "a") is None
    r.decline("o1", "too soon", NOW, 90)
    r.identify("o2", RULE, "q2", "f-offer2", NOW.date())
    refused = r.offer("o2", "k2", "phone", "", NOW + timedelta(days=10), "a")
    assert refused.code == "cool_down"
    assert r.offer("o2", "k3", "email", "", NOW + timedelta(days=91), "a") is None
    r.win("o2", "", NOW + timedelta(days=92), 90, "f-review")
    assert r.follow_ups["f-review"].kind == "outcome_review"
    with pytest.raises(DomainRuleViolation, match="is won"):
        r.decline("o2", "changed mind", NOW, 90)
    r.review_outcome("o2", "as_promised", "", NOW + timedelta(days=200), "a")
    assert r.opportunities["o2"].status == "reviewed"


def test_cancelling_inside_the_minimum_term_is_refused_with_the_first_possible_date():
    r = started()
    r.enrol("p1", "Care", date(2026, 1, 15), ProgramTerms(), Decimal("2000000"), catalogue.fee_tiers(), "EUR", 14, ("n1", "r1"))
    enrolled = r.pending[0]
    assert enrolled.monthly_fee == Decimal("3500") and enrolled.notice_deadline == date(2026, 12, 16)
    with pytest.raises(DomainRuleViolation, match="possible from 2026-07-15"):
        r.cancel_program("p1", date(2026, 7, 14), "too expensive")
    r.cancel_program("p1", date(2026, 7, 15), "too expensive")
    assert r.pending[-3].effective_on == date(2026, 8, 14)
    assert {r.follow_ups[f].status for f in ("n1", "r1")} == {"closed"}


def test_scheduling_is_idempotent_by_id():
    r = started()
    r.schedule("f1", "review", date(2027, 1, 1), "again")
    assert r.pending == []


def test_a_delivery_accepted_before_follow_up_knows_the_client_waits_for_the_relationship():
    """Under faults delivery's DeliveryAccepted can overtake intake's ClientRegistered (two
    consumers): the reaction must wait for the relationship instead of following up a
    client it knows nothing about (no manager, policy or revenue)."""
    from baton_shared.contracts.delivery import DeliveryAccepted
    from baton_shared.events.envelope import Envelope, RecordedEvent
    from baton_shared.eventstore.port import AggregateHistory
    from baton_shared.reactions import CauseNotReady
    from baton_followup.reactions.delivery_acceptance import FollowDeliveryAcceptance

    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    accepted = DeliveryAccepted(request_id="r1", client_id="c1", account_manager="alice", satisfaction=4,
                                departments=("web",), handover_round=1, accepted_at=now)
    envelope = Envelope(event_id="e1", event_type="DeliveryAccepted", schema_version=1, aggregate_type="request",
                        aggregate_id="r1", occurred_at=now, correlation_id="r1", actor="dora",
                        payload=accepted.model_dump(mode="json"))
    cause = RecordedEvent("DELIVERY", 7, "delivery.request.r1.DeliveryAccepted", envelope, accepted)
    reaction = FollowDeliveryAcceptance(views=None, rules=catalogue.next_need_rules(), satisfaction_delay_days=7)
    with pytest.raises(CauseNotReady, match="no relationship yet"):
        reaction.decide(AggregateHistory([]), cause, "website relaunch")
