"""Intake's aggregates: the rules, as pure code (no I/O)."""

from datetime import date, datetime, timezone

import pytest

from baton_shared.contracts import intake as ev
from baton_shared.domain import DomainRuleViolation
from baton_intake.domain import Client, Request

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 24)


def registered() -> Client:
    client = Client.register("c1", name="Acme", segment="B2B", account_manager="alice")
    return Client.rebuild("c1", [(1, client.pending[0])])


def captured(**kw) -> Request:
    request = Request.capture("r1", client_id="c1", summary="a house", today=TODAY, **kw)
    return Request.rebuild("r1", [(2, request.pending[0])])


def handed_off(*departments: str) -> Request:
    request = captured()
    work = [ev.WorkItem(department=d, scope="s", due_by=TODAY) for d in departments]
    request.hand_off(work, [f"h-{d}" for d in departments], account_manager="alice", today=TODAY)
    return Request.rebuild(
        "r1",
        [(2, ev.NeedCaptured(request_id="r1", client_id="c1", summary="a house"))]
        + [(3 + n, e) for n, e in enumerate(request.pending)],
    )


def test_registering_records_the_profile_and_default_policy():
    client = Client.register("c1", name="Acme", segment="B2B", account_manager="alice")
    [event] = client.pending
    assert isinstance(event, ev.ClientRegistered)
    assert event.contact_policy == ev.ContactPolicy()
    assert client.account_manager == "alice"


def test_same_account_manager_again_is_refused():
    client = registered()
    with pytest.raises(DomainRuleViolation, match="already the account manager"):
        client.assign_account_manager("alice")
    assert client.pending == []


def test_account_manager_change_keeps_the_previous_one():
    client = registered()
    client.assign_account_manager("bob", "likes mornings")
    [event] = client.pending
    assert event.previous_account_manager == "alice" and event.handover_note == "likes mornings"


def test_unchanged_contact_policy_records_nothing():
    client = registered()
    client.set_contact_policy(ev.ContactPolicy())
    assert client.pending == []
    client.set_contact_policy(ev.ContactPolicy(do_not_contact=True))
    assert len(client.pending) == 1


def test_commands_on_an_unregistered_client_are_refused():
    with pytest.raises(DomainRuleViolation):
        Client("nobody").add_note("n1", "x", "me")


def test_desired_date_in_the_past_is_refused():
    with pytest.raises(DomainRuleViolation, match="in the past"):
        Request.capture("r1", client_id="c1", summary="x", today=TODAY, desired_by=date(2026, 11, 23))


def test_handoff_yields_one_event_per_department():
    request = captured()
    work = [
        ev.WorkItem(department="design", scope="plans", due_by=date(2027, 1, 1)),
        ev.WorkItem(department="production", scope="build", due_by=date(2027, 6, 1)),
    ]
    request.hand_off(work, ["h1", "h2"], account_manager="alice", today=TODAY)
    assert [e.department for e in request.pending] == ["design", "production"]
    assert all(isinstance(e, ev.HandoffRequested) for e in request.pending)
    assert request.status == "handed_off"


@pytest.mark.parametrize(
    "work, message",
    [
        ([], "at least one"),
        ([ev.WorkItem(department="d", scope="s", due_by=date(2026, 11, 1))], "in the past"),
        (
            [
                ev.WorkItem(department="d", scope="s", due_by=TODAY),
                ev.WorkItem(department="d", scope="t", due_by=TODAY),
            ],
            "twice",
        ),
    ],
)
def test_bad_handoffs_are_refused_and_record_nothing(work, message):
    request = captured()
    with pytest.raises(DomainRuleViolation, match=message):
        request.hand_off(work, [f"h{n}" for n in range(len(work))], account_manager="a", today=TODAY)
    assert request.pending == []


def test_a_cancelled_request_takes_no_more_work():
    request = captured()
    request.cancel("client changed their mind", datetime(2026, 11, 24, tzinfo=timezone.utc))
    for attempt in (
        lambda: request.hand_off(
            [ev.WorkItem(department="d", scope="s", due_by=TODAY)], ["h"], account_manager="a", today=TODAY
        ),
        lambda: request.clarify("q", "a"),
        lambda: request.cancel("again", datetime.now(timezone.utc)),
    ):
        with pytest.raises(DomainRuleViolation, match="cancelled"):
            attempt()
    assert len(request.pending) == 1


def test_a_change_must_name_a_department_with_work():
    request = handed_off("design")
    with pytest.raises(DomainRuleViolation, match="no work on this request"):
        request.request_change("ch1", "finance", "cheaper", "alice")
    request.request_change("ch1", "design", "bigger windows", "alice")
    request.request_change("ch2", None, "one floor less", "alice")
    assert [e.department for e in request.pending] == ["design", None]


def test_a_change_before_any_handoff_is_refused():
    with pytest.raises(DomainRuleViolation, match="nothing has been handed off"):
        captured().request_change("ch1", None, "x", "alice")
