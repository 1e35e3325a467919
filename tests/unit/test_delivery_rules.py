"""Delivery's aggregate: the work order lifecycle, handover, rework, changes, time (no I/O)."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from baton_shared.contracts import delivery as ev
from baton_shared.contracts import intake
from baton_shared.domain import DomainRuleViolation, NotFound
from baton_shared.contracts import registry as contracts_registry
from baton_delivery.domain import RequestDelivery
from baton_delivery.domain.rework import rework_totals

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
DUE = date(2026, 12, 15)


def handoff(department: str, n: int = 1) -> intake.HandoffRequested:
    return intake.HandoffRequested(
        request_id="r1",
        client_id="c1",
        handoff_id=f"wo-{department}-{n}",
        department=department,
        scope="do it",
        due_by=DUE,
        account_manager="alice",
    )


def delivery_with(*departments: str) -> RequestDelivery:
    d = RequestDelivery("r1")
    for dep in departments:
        d.open_work_order(handoff(dep), f"cause-{dep}")
    return replayed(d)


def replayed(d: RequestDelivery) -> RequestDelivery:
    """The same aggregate rebuilt from everything it recorded (as loading it would)."""
    events = list(d.pending)
    fresh = RequestDelivery.rebuild("r1", [(n + 1, e) for n, e in enumerate(events)])
    fresh.pending = []
    return fresh


def apply(d: RequestDelivery, action) -> list:
    """Run a command; return what it recorded; leave the aggregate as if reloaded."""
    before = len(d.pending)
    action(d)
    recorded = d.pending[before:]
    d.pending = []
    return recorded


def finish(d: RequestDelivery, wo: str) -> list:
    apply(d, lambda x: x.accept(wo, "bob"))
    apply(d, lambda x: x.start(wo))
    return apply(d, lambda x: x.complete(wo, "done", NOW))


def test_a_handoff_opens_one_work_order_once():
    d = RequestDelivery("r1")
    d.open_work_order(handoff("design"), "cause")
    d.open_work_order(handoff("design"), "cause")  # redelivered
    assert [type(e) for e in d.pending] == [ev.WorkOrderOpened]
    assert d.pending[0].work_order_id == "wo-design-1" and d.pending[0].account_manager == "alice"


def test_the_happy_lifecycle_and_handover_when_the_last_work_order_completes():
    d = delivery_with("design", "production")
    assert [type(e) for e in finish(d, "wo-design-1")] == [ev.WorkOrderCompleted]
    last = finish(d, "wo-production-1")
    assert [type(e) for e in last] == [ev.WorkOrderCompleted, ev.RequestReadyForHandover]
    assert last[1].handover_round == 1 and set(last[1].work_order_ids) == {"wo-design-1", "wo-production-1"}


@pytest.mark.parametrize(
    "steps, action, reason",
    [
        ([], lambda d: d.start("wo-design-1"), "it is opened"),
        ([], lambda d: d.complete("wo-design-1", "", NOW), "it is opened"),
        ([], lambda d: d.progress("wo-design-1", "x", 10), "it is opened"),
        ([lambda d: d.accept("wo-design-1", "bob")], lambda d: d.accept("wo-design-1", "eve"), "it is accepted"),
        ([], lambda d: d.unblock("wo-design-1", NOW), "it is opened"),
    ],
)
def test_illegal_transitions_are_refused_with_the_reason(steps, action, reason):
    d = delivery_with("design")
    for step in steps:
        apply(d, step)
    with pytest.raises(DomainRuleViolation, match=reason):
        action(d)
    assert d.pending == []


def test_unknown_work_order_is_not_found():
    with pytest.raises(NotFound):
        delivery_with("design").accept("nope", "bob")


def test_blocking_tracks_time_and_returns_to_the_previous_state():
    d = delivery_with("design")
    apply(d, lambda x: x.accept("wo-design-1", "bob"))
    apply(d, lambda x: x.start("wo-design-1"))
    apply(d, lambda x: x.block("wo-design-1", "waiting for the client's plans", NOW))
    with pytest.raises(DomainRuleViolation, match="it is blocked"):
        d.complete("wo-design-1", "", NOW)
    [unblocked] = apply(d, lambda x: x.unblock("wo-design-1", NOW + timedelta(hours=2)))
    assert unblocked.blocked_seconds == 7200
    assert d.work_orders["wo-design-1"].status == "in_progress"


def test_rework_reopens_the_named_departments_and_a_second_round_follows():
    d = delivery_with("design", "production")
    finish(d, "wo-design-1")
    finish(d, "wo-production-1")
    recorded = apply(
        d, lambda x: x.reject_delivery([ev.ReworkItem(department="design", description="bigger windows")], "almost")
    )
    assert [type(e) for e in recorded] == [ev.DeliveryRejected, ev.WorkOrderReopened]
    assert d.work_orders["wo-design-1"].status == "reopened" and d.work_orders["wo-production-1"].status == "completed"
    with pytest.raises(DomainRuleViolation, match="not ready for handover"):
        d.accept_delivery(5, "", NOW)
    apply(d, lambda x: x.start("wo-design-1"))
    ready = apply(d, lambda x: x.complete("wo-design-1", "bigger now", NOW))
    assert ready[-1].handover_round == 2
    [accepted] = apply(d, lambda x: x.accept_delivery(4, "good", NOW))
    assert accepted.handover_round == 2 and accepted.departments == ("design", "production")


def test_rework_must_name_departments_with_completed_work():
    d = delivery_with("design")
    finish(d, "wo-design-1")
    with pytest.raises(DomainRuleViolation, match="no completed work for finance"):
        d.reject_delivery([ev.ReworkItem(department="finance", description="x")], "")
    with pytest.raises(DomainRuleViolation, match="at least one rework item"):
        d.reject_delivery([], "")


def test_changes_reach_the_named_department_or_every_live_work_order_once():
    d = delivery_with("design", "production", "finance")
    finish(d, "wo-finance-1")
    change = intake.ChangeRequested(
        request_id="r1",
        client_id="c1",
        change_id="ch1",
        department=None,
        description="one floor less",
        requested_by="alice",
    )
    attached = apply(d, lambda x: x.attach_change(change, NOW))
    assert sorted(e.department for e in attached) == ["design", "production"]  # finance is done
    assert apply(d, lambda x: x.attach_change(change, NOW)) == []  # redelivered
    named = change.model_copy(update={"change_id": "ch2", "department": "production"})
    assert [e.department for e in apply(d, lambda x: x.attach_change(named, NOW))] == ["production"]


def test_cancellation_stops_live_work_only_and_a_cancelled_order_takes_no_commands():
    d = delivery_with("design", "production")
    finish(d, "wo-design-1")
    cancelled = apply(d, lambda x: x.cancel("client withdrew"))
    assert [e.work_order_id for e in cancelled] == ["wo-production-1"]
    with pytest.raises(DomainRuleViolation, match="it is cancelled"):
        d.accept("wo-production-1", "bob")


def test_overdue_is_recorded_once_and_only_when_late_and_live():
    d = delivery_with("design")
    assert apply(d, lambda x: x.mark_overdue("wo-design-1", DUE)) == []  # due today: not late
    [overdue] = apply(d, lambda x: x.mark_overdue("wo-design-1", DUE + timedelta(days=1)))
    assert overdue.account_manager == "alice"
    assert apply(d, lambda x: x.mark_overdue("wo-design-1", DUE + timedelta(days=2))) == []


def test_rework_says_who_pays_and_the_client_pays_only_a_priced_item():
    d = delivery_with("design", "production")
    finish(d, "wo-design-1")
    finish(d, "wo-production-1")
    with pytest.raises(DomainRuleViolation, match="needs its amount and currency \\(design\\)"):
        d.reject_delivery([ev.ReworkItem(department="design", description="x", paid_by="client")], "")
    items = [
        ev.ReworkItem(
            department="design", description="new colour", paid_by="client", amount=Decimal("1200.50"), currency="EUR"
        ),
        ev.ReworkItem(department="production", description="our typo"),
    ]
    [rejected, *_] = apply(d, lambda x: x.reject_delivery(items, "two things"))
    assert [(i.paid_by, i.amount, i.currency) for i in rejected.rework] == [
        ("client", Decimal("1200.50"), "EUR"),
        ("us", None, None),
    ]


def test_rework_totals_by_payer_and_currency():
    items = [
        {"paid_by": "client", "amount": "1200.50", "currency": "EUR"},
        {"paid_by": "client", "amount": "99.50", "currency": "EUR"},
        {"paid_by": "client", "amount": "10", "currency": "USD"},
        {"paid_by": "us", "amount": "300", "currency": "EUR"},
        {"department": "design", "description": "written before who-pays existed"},
    ]
    assert rework_totals(items) == [
        {"paid_by": "client", "currency": "EUR", "amount": "1300.00", "items": 2},
        {"paid_by": "client", "currency": "USD", "amount": "10.00", "items": 1},
        {"paid_by": "us", "currency": None, "amount": None, "items": 1},
        {"paid_by": "us", "currency": "EUR", "amount": "300.00", "items": 1},
    ]


def test_a_v1_rejection_reads_as_our_unpriced_rework():
    payload = {
        "request_id": "r1",
        "client_id": "c1",
        "handover_round": 1,
        "rework": [{"department": "design", "description": "x"}],
    }
    upcast = contracts_registry.upcast("DeliveryRejected", 1, payload)
    [item] = ev.DeliveryRejected.model_validate(upcast).rework
    assert (item.paid_by, item.amount, item.currency) == ("us", None, None)
