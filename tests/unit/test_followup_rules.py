"""Follow-up's rules, without I/O: the contact policy, tiers, program dates and fees,
the catalogue of next needs, and the relationship's decisions."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.domain import DomainRuleViolation, NotFound
from baton_followup import catalogue
from baton_followup.domain import (
    ContactState,
    Money,
    NextNeedRule,
    ProgramTerms,
    RecoveryRules,
    Relationship,
    TierRules,
    add_working_days,
    monthly_fee,
    next_needs,
    program_dates,
    refusal,
    tier_for,
)
from baton_followup.domain.complaints import HEAD_ROLE, ComplaintDeadlines
from baton_followup.domain.health import Health, HealthInputs, at_risk, health, risk_window
from baton_followup.domain.tiers import rank_tiers

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
RULE = NextNeedRule(
    "house-furniture", "furniture", "Furnish the house", "new houses need furniture", ("construction",), ("house",), 30
)


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
        ev.RelationshipStarted(
            client_id="c1", client_name="Acme", account_manager="alice", contact_policy=ContactPolicy(**policy)
        ),
        ev.FollowUpScheduled(client_id="c1", follow_up_id="f1", kind="review", due_on=date(2026, 11, 20), reason="r"),
    )


def test_a_refused_contact_is_recorded_as_a_suppression_and_nothing_else():
    r = started(do_not_contact=True)
    refused = r.record_contact(
        "k1", "f1", channel="phone", outcome="reached", note="", now=NOW, by="alice", next_review_id="f2"
    )
    assert refused.code == "do_not_contact"
    assert [type(e).__name__ for e in r.pending] == ["ContactSuppressed"]
    assert r.follow_ups["f1"].status == "open"


def test_a_review_done_schedules_the_next_on_the_cadence():
    r = started()
    r._apply(ev.ClientTiered(client_id="c1", tier="key", review_every_days=30, annual_revenue=None, reason="r"))
    assert (
        r.record_contact("k1", "f1", channel="phone", outcome="reached", note="", now=NOW, by="a", next_review_id="f2")
        is None
    )
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
    r.enrol(
        "p1",
        "Care",
        date(2026, 1, 15),
        ProgramTerms(),
        Decimal("2000000"),
        catalogue.fee_tiers(),
        "EUR",
        14,
        ("n1", "r1"),
    )
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
    accepted = DeliveryAccepted(
        request_id="r1",
        client_id="c1",
        account_manager="alice",
        satisfaction=4,
        departments=("web",),
        handover_round=1,
        accepted_at=now,
    )
    envelope = Envelope(
        event_id="e1",
        event_type="DeliveryAccepted",
        schema_version=1,
        aggregate_type="request",
        aggregate_id="r1",
        occurred_at=now,
        correlation_id="r1",
        actor="dora",
        payload=accepted.model_dump(mode="json"),
    )
    cause = RecordedEvent("DELIVERY", 7, "delivery.request.r1.DeliveryAccepted", envelope, accepted)
    reaction = FollowDeliveryAcceptance(views=None, rules=catalogue.next_need_rules(), satisfaction_delay_days=7)
    with pytest.raises(CauseNotReady, match="no relationship yet"):
        reaction.decide(AggregateHistory([]), cause, "website relaunch")


# --- recovery before selling (issue 20) ------------------------------------------------------


def test_a_recovery_is_due_in_working_days_by_tier():
    rules = RecoveryRules(key_working_days=1, standard_working_days=3)
    friday = date(2026, 11, 27)
    assert rules.due_on(friday, "key") == date(2026, 11, 30)  # Monday
    assert rules.due_on(friday, "standard") == date(2026, 12, 2)  # Wednesday
    assert add_working_days(date(2026, 11, 24), 1) == date(2026, 11, 25)


def test_only_a_satisfaction_of_one_or_two_opens_a_recovery():
    for score, opened in ((1, True), (2, True), (3, False), (5, False)):
        r = started()
        r.record_satisfaction(score, "late and sloppy", "q1", NOW, "a", recovery=("rc1", RecoveryRules()))
        assert ("rc1" in r.recoveries) is opened, score
        if opened:
            assert r.follow_ups["rc1"].kind == "recovery" and "late and sloppy" in r.pending[-1].reason


def test_an_open_recovery_holds_offers_with_its_own_code_and_closing_releases_them():
    r = started()
    r.identify("o1", RULE, "q1", "f-offer", NOW.date())
    r.open_recovery("rc1", "delivery_rejected", "rejected", "", NOW, RecoveryRules())
    refused = r.offer("o1", "k1", "phone", "", NOW, "a")
    assert refused.code == "recovery_in_progress"
    assert isinstance(r.pending[-1], ev.ContactSuppressed) and r.pending[-1].code == "recovery_in_progress"
    # The recovery's own follow-up is a contact, not an offer: allowed.
    assert (
        r.record_contact(
            "k2", "rc1", channel="phone", outcome="no_answer", note="", now=NOW, by="a", next_review_id="x"
        )
        is None
    )
    r.close_recovery("rc1", "redid the work", "satisfied now", NOW, "a")
    assert r.follow_ups["rc1"].status == "closed"
    assert r.offer("o1", "k3", "phone", "", NOW, "a") is None


def test_closing_a_recovery_twice_or_an_unknown_one_is_refused():
    r = started()
    r.open_recovery("rc1", "low_satisfaction", "1/5", "", NOW, RecoveryRules())
    r.open_recovery("rc1", "low_satisfaction", "1/5", "", NOW, RecoveryRules())  # redelivered: once
    assert [type(e).__name__ for e in r.pending].count("RecoveryOpened") == 1
    r.close_recovery("rc1", "called", "fine", NOW, "a")
    with pytest.raises(DomainRuleViolation, match="already closed"):
        r.close_recovery("rc1", "called", "fine", NOW, "a")
    with pytest.raises(NotFound):
        r.close_recovery("nope", "called", "fine", NOW, "a")


# --- client health (issue 20) --------------------------------------------------------------


def test_the_health_formula_takes_its_points_off_with_reasons():
    assert health(HealthInputs()) == Health(100, ())
    unhappy = health(HealthInputs(scores=[4, 1], open_recoveries=1, reached=3, refused=1, declined=1, won=1, notices=1))
    # mean 2.5 -> 25, falling -> 5, recovery 25, refused 1/4 -> 4, declined 1/2 -> 5, notice 20
    assert unhappy.score == 100 - 25 - 5 - 25 - 4 - 5 - 20 == 16
    assert unhappy.reasons[0] == "-25: satisfaction averages 2.5/5 over the last 2"
    assert any("recovery is open" in r for r in unhappy.reasons)
    assert (
        health(HealthInputs(scores=[1, 1, 1], open_recoveries=2, stopped=True, refused=9, declined=3, notices=2)).score
        == 0
    )


def test_at_risk_below_the_threshold_or_after_a_fall_within_30_days():
    t0 = NOW - timedelta(days=40)
    assert at_risk(59, [], NOW) == "health 59 is below 60"
    assert at_risk(75, [(NOW - timedelta(days=10), 100), (NOW, 75)], NOW) == "health fell from 100 to 75 within 30 days"
    assert at_risk(75, [(t0, 100), (NOW - timedelta(days=35), 75)], NOW) is None  # the fall is older than 30 days
    assert at_risk(80, [(t0, 100), (NOW, 80)], NOW) is None  # by 20: not more than 20
    assert (
        at_risk(75, [(t0, 100), (NOW, 75)], NOW) == "health fell from 100 to 75 within 30 days"
    )  # the score as the window opened


def test_the_risk_window_answers_as_the_whole_history_does_and_stays_small():
    rng = random.Random(23)
    for _ in range(200):
        at, history, window = NOW, [], []
        for _ in range(rng.randint(1, 120)):
            at += timedelta(minutes=rng.choice([1, 90, 60 * 24 * 3, 60 * 24 * 29, 60 * 24 * 30, 60 * 24 * 31]))
            score = (
                rng.choice([100, 95, 90, 75, 60, 55, 30, 0]) if rng.random() < 0.7 else (history or [(at, 100)])[-1][1]
            )
            if not history or history[-1][1] != score:
                history.append((at, score))
            window = risk_window(window, at, score)
            assert at_risk(score, [(w, s) for w, s, _ in window], at) == at_risk(score, history, at)
            assert len(window) <= 101 and [s for _, s, _ in window] == sorted({s for _, s, _ in window}, reverse=True)


def test_an_at_risk_follow_up_is_scheduled_once_while_one_is_open():
    r = started()
    r.flag_at_risk("risk-1", NOW.date(), "health 40 is below 60")
    r.flag_at_risk("risk-2", NOW.date(), "health 30 is below 60")
    assert [e.follow_up_id for e in r.pending] == ["risk-1"] and r.follow_ups["risk-1"].kind == "at_risk"


def test_reaching_the_client_on_a_recovery_leaves_it_on_the_agenda_until_it_is_closed():
    r = started()
    r.open_recovery("rc1", "low_satisfaction", "1/5", "", NOW, RecoveryRules())
    assert (
        r.record_contact("k1", "rc1", channel="phone", outcome="reached", note="", now=NOW, by="a", next_review_id="x")
        is None
    )
    assert r.follow_ups["rc1"].status == "open" and r.contact.recovering
    r.close_recovery("rc1", "called, redid it", "happy", NOW, "a")
    assert r.follow_ups["rc1"].status == "closed" and not r.contact.recovering


def events_of(r: Relationship, event_type: type) -> list:
    return [e for e in r.pending if isinstance(e, event_type)]


def test_an_opportunity_is_valued_won_at_the_estimate_unless_agreed_otherwise_and_reviewed_against_it():
    r = started()
    r.identify("o1", RULE, "q1", "f-offer", NOW.date())
    r.estimate("o1", Money(Decimal("4000"), "EUR"), NOW, "alice")
    r.estimate("o1", Money(Decimal("4500.50"), "EUR"), NOW, "alice")  # a later estimate replaces the first
    r.offer("o1", "k1", "phone", "", NOW, "a")
    r.win("o1", "", NOW, 90, "f-review")
    [won] = events_of(r, ev.OpportunityWon)
    assert (won.agreed_value, won.currency) == (Decimal("4500.50"), "EUR")
    with pytest.raises(DomainRuleViolation, match="is won; this needs it identified or offered"):
        r.estimate("o1", Money(Decimal("1"), "EUR"), NOW, "alice")
    with pytest.raises(DomainRuleViolation, match="compared with the agreed 4500.50 EUR: give it in EUR"):
        r.review_outcome("o1", "as_promised", "", NOW, "a", Money(Decimal("10"), "USD"))
    r.review_outcome("o1", "less_than_promised", "", NOW, "a", Money(Decimal("3000"), "EUR"))
    [reviewed] = events_of(r, ev.OpportunityOutcomeReviewed)
    assert (reviewed.realised_value, reviewed.currency) == (Decimal("3000"), "EUR")


def test_an_agreed_value_overrides_the_estimate_in_its_currency_only():
    r = started()
    r.identify("o1", RULE, "q1", "f-offer", NOW.date())
    r.estimate("o1", Money(Decimal("4000"), "EUR"), NOW, "alice")
    r.offer("o1", "k1", "phone", "", NOW, "a")
    with pytest.raises(DomainRuleViolation, match="estimated in EUR"):
        r.win("o1", "", NOW, 90, "f-review", Money(Decimal("3500"), "USD"))
    r.win("o1", "", NOW, 90, "f-review", Money(Decimal("3500"), "EUR"))
    assert r.opportunities["o1"].value == Money(Decimal("3500"), "EUR")
    r2 = started()
    r2.identify("o2", RULE, "q1", "f-offer", NOW.date())
    r2.offer("o2", "k1", "phone", "", NOW, "a")
    r2.win("o2", "", NOW, 90, "f-review")  # never valued: won without a value, as before
    [won] = events_of(r2, ev.OpportunityWon)
    assert (won.agreed_value, won.currency) == (None, None)


def test_v1_wins_and_reviews_read_as_unvalued():
    from baton_shared.contracts import registry as contracts_registry

    won = contracts_registry.upcast("OpportunityWon", 1, {"opportunity_id": "o1"})
    reviewed = contracts_registry.upcast("OpportunityOutcomeReviewed", 1, {"opportunity_id": "o1"})
    assert (won["agreed_value"], won["currency"], reviewed["realised_value"], reviewed["currency"]) == (
        None,
        None,
        None,
        None,
    )


def test_the_provider_ends_a_program_inside_its_minimum_term_once():
    r = started()
    r.enrol(
        "p1",
        "Care",
        date(2026, 1, 15),
        ProgramTerms(),
        Decimal("2000000"),
        catalogue.fee_tiers(),
        "EUR",
        14,
        ("n1", "r1"),
    )
    r.end_program("p1", date(2026, 2, 1), "we no longer serve this region", "alice")
    [ended] = events_of(r, ev.ProgramEnded)
    assert (ended.ended_on, ended.reason, ended.switched_to) == (
        date(2026, 2, 1),
        "we no longer serve this region",
        None,
    )
    assert {r.follow_ups[f].status for f in ("n1", "r1")} == {"closed"}
    with pytest.raises(DomainRuleViolation, match="is ended: only an active program"):
        r.end_program("p1", date(2026, 2, 2), "again", "alice")
    with pytest.raises(DomainRuleViolation, match="is already ended"):
        r.cancel_program("p1", date(2026, 8, 1), "x")


def test_a_switch_ends_the_old_program_and_starts_the_new_one_the_same_day():
    r = started()
    r.enrol(
        "p1",
        "Care",
        date(2026, 1, 15),
        ProgramTerms(),
        Decimal("2000000"),
        catalogue.fee_tiers(),
        "EUR",
        14,
        ("n1", "r1"),
    )
    enrolment = {
        "name": "Care Plus",
        "terms": ProgramTerms(3, 12, 30),
        "revenue": Decimal("20000000"),
        "fee_tiers": catalogue.fee_tiers(),
        "currency": "EUR",
        "lead_days": 14,
        "follow_up_ids": ("n2", "r2"),
    }
    r.switch_program("p1", "p2", date(2026, 3, 1), "moved to the new program", "alice", **enrolment)
    [ended] = events_of(r, ev.ProgramEnded)
    new = events_of(r, ev.ProgramEnrolled)[-1]
    assert ended.switched_to == "p2" and new.program_id == "p2" and new.starts_on == date(2026, 3, 1)
    assert new.monthly_fee == Decimal("5000")
    assert (r.programs["p1"].status, r.programs["p2"].status) == ("ended", "active")
    assert r.follow_ups["n2"].status == "open" and r.follow_ups["n1"].status == "closed"
    with pytest.raises(DomainRuleViolation, match="is ended"):
        r.switch_program("p1", "p3", date(2026, 3, 2), "again", "alice", **dict(enrolment, follow_up_ids=("n3", "r3")))


DEADLINES = {"key": ComplaintDeadlines("key", 4, 48), "standard": ComplaintDeadlines("standard", 24, 120)}


def complaint_of(tier: str = "key") -> Relationship:
    r = started()
    r._apply(ev.ClientTiered(client_id="c1", tier=tier, review_every_days=30, annual_revenue=None, reason="r"))
    r.open_complaint(
        "k1",
        category="delay",
        severity="high",
        description="late again",
        concerns={"request_id": "q1"},
        deadlines=DEADLINES,
        now=NOW,
        by="alice",
    )
    return r


def test_a_complaint_gets_its_tiers_deadlines_and_moves_only_along_its_lifecycle():
    r = complaint_of("key")
    [opened] = events_of(r, ev.ComplaintOpened)
    assert (opened.respond_by, opened.resolve_by) == (NOW + timedelta(hours=4), NOW + timedelta(hours=48))
    assert complaint_of("standard").complaints["k1"].resolve_by == NOW + timedelta(hours=120)
    with pytest.raises(DomainRuleViolation, match="cannot resolve complaint k1: it is opened"):
        r.resolve_complaint("k1", "x", "y", NOW, "a")
    r.acknowledge_complaint("k1", "sorry, on it", NOW, "alice")
    with pytest.raises(DomainRuleViolation, match="cannot acknowledge complaint k1: it is acknowledged"):
        r.acknowledge_complaint("k1", "again", NOW, "alice")
    r.assign_complaint("k1", "design", NOW, "alice")
    r.resolve_complaint("k1", "redone", "no review step", NOW, "dora")
    r.reopen_complaint("k1", "still wrong", DEADLINES, NOW + timedelta(hours=10), "alice")
    assert (r.complaints["k1"].status, r.complaints["k1"].round) == ("reopened", 2)
    assert r.complaints["k1"].resolve_by == NOW + timedelta(hours=58)
    r.resolve_complaint("k1", "redone twice", "no review step", NOW, "dora")
    r.confirm_complaint("k1", NOW, "alice")
    with pytest.raises(DomainRuleViolation, match="cannot reopen complaint k1: it is confirmed"):
        r.reopen_complaint("k1", "x", DEADLINES, NOW, "alice")
    with pytest.raises(NotFound):
        r.confirm_complaint("nope", NOW, "alice")


def test_each_missed_deadline_is_recorded_once_and_escalates_first_to_the_manager_then_to_the_head():
    r = complaint_of("key")
    assert r.record_breaches("k1", NOW + timedelta(hours=3)) == 0
    assert r.record_breaches("k1", NOW + timedelta(hours=5)) == 1
    assert r.record_breaches("k1", NOW + timedelta(hours=6)) == 0  # once
    [first] = events_of(r, ev.ComplaintDeadlineBreached)
    assert (first.deadline, first.escalated_to_role, first.escalated_to) == (
        "first_response",
        "account_manager",
        "alice",
    )
    r.acknowledge_complaint("k1", "on it", NOW + timedelta(hours=7), "alice")
    assert r.record_breaches("k1", NOW + timedelta(hours=49)) == 1
    assert r.record_breaches("k1", NOW + timedelta(hours=50)) == 0
    resolution = events_of(r, ev.ComplaintDeadlineBreached)[-1]
    assert (resolution.deadline, resolution.round, resolution.escalated_to_role) == ("resolution", 1, HEAD_ROLE)
    assert HEAD_ROLE == "head"  # the head of account management (issue 21)


def test_the_shipped_complaint_deadlines_load_and_a_bad_file_is_refused(tmp_path):
    table = catalogue.complaint_deadlines()
    assert (table["key"].first_response_hours, table["key"].resolution_hours) == (4, 48)
    assert (table["standard"].first_response_hours, table["standard"].resolution_hours) == (24, 120)
    bad = tmp_path / "d.toml"
    bad.write_text('[[deadline]]\ntier = "key"\nfirst_response_hours = 4\nresolution_hours = 48\n')
    with pytest.raises(catalogue.CatalogueError, match="needs a deadline for tier 'standard'"):
        catalogue.complaint_deadlines(bad)
    bad.write_text('[[deadline]]\ntier = "standard"\nfirst_response_hours = 50\nresolution_hours = 48\n')
    with pytest.raises(catalogue.CatalogueError, match="first_response_hours <= resolution_hours"):
        catalogue.complaint_deadlines(bad)


def test_open_and_breached_complaints_weigh_on_health_until_resolved():
    from baton_followup.projections.client_health import ClientHealthProjection
    from baton_shared.events.envelope import Envelope, RecordedEvent

    def at(hours: int) -> datetime:
        return NOW + timedelta(hours=hours)

    def opened(cid: str) -> ev.ComplaintOpened:
        return ev.ComplaintOpened(
            client_id="c1", complaint_id=cid, category="delay", severity="high", description="late again",
            tier="key", account_manager="alice", opened_at=NOW, respond_by=at(4), resolve_by=at(48), by="alice",
        )  # fmt: skip

    events = [
        opened("k1"),
        opened("k2"),
        ev.ComplaintDeadlineBreached(
            client_id="c1", complaint_id="k1", deadline="first_response", round=1, due_at=at(4),
            detected_at=at(5), escalated_to_role="account_manager",
        ),  # fmt: skip
        ev.ComplaintResolved(
            client_id="c1", complaint_id="k2", resolution="sent", root_cause="stock", resolved_at=at(6), by="alice"
        ),
        ev.ComplaintResolved(
            client_id="c1", complaint_id="k1", resolution="fixed", root_cause="rota", resolved_at=at(7), by="alice"
        ),
        ev.ComplaintReopened(client_id="c1", complaint_id="k1", reason="not fixed", reopened_at=at(8), resolve_by=at(56), round=2, by="alice"),
    ]  # fmt: skip
    projection, row, scores = ClientHealthProjection(), None, []
    for seq, event in enumerate(events, start=1):
        envelope = Envelope(
            event_id=f"e{seq}", event_type=event.event_type, schema_version=event.schema_version,
            aggregate_type="client", aggregate_id="c1", occurred_at=at(seq), correlation_id="c1", actor="alice",
            payload=event.model_dump(mode="json"),
        )  # fmt: skip
        row = projection.fold(
            row, RecordedEvent("FOLLOWUP", seq, f"followup.client.c1.{event.event_type}", envelope, event)
        )
        scores.append(row["score"])
    # one open (-10), two (-20), one of them breached (-10 more), one resolved, both, one reopened
    assert scores == [90, 80, 70, 80, 100, 90]
    assert row["reasons"] == ["-10: 1 complaint open"]
