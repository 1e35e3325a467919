"""Overdue and blocked work, and reviews past their date, in the client's health (issue 20)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from baton_shared.contracts import delivery as dev
from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.events.envelope import Envelope, RecordedEvent
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import CauseNotReady

from baton_followup.domain import Relationship
from baton_followup.domain.health import HealthInputs, health
from baton_followup.projections import ClientHealthProjection
from baton_followup.reactions import FollowDeliveryWork

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
STARTED = ev.RelationshipStarted(
    client_id="c1", client_name="Acme", account_manager="alice", contact_policy=ContactPolicy()
)
REVIEW = ev.FollowUpScheduled(client_id="c1", follow_up_id="f1", kind="review", due_on=date(2026, 11, 20), reason="r")


def relationship(*events: ev.FollowupEvent) -> Relationship:
    return Relationship.rebuild("c1", ((n, e) for n, e in enumerate(events, 1)))


def test_only_a_change_of_concern_is_recorded():
    r = relationship(STARTED)
    steps = [
        ("WorkOrderBlocked", (False, True)),
        ("WorkOrderOverdue", (True, True)),
        ("WorkOrderUnblocked", (True, False)),
        ("WorkOrderUnblocked", None),  # nothing changed
        ("WorkOrderCompleted", (False, False)),
        ("WorkOrderCompleted", None),
    ]
    for event_type, expected in steps:
        r.pending.clear()
        r.note_work(event_type, "w1", "q1", "web", NOW)
        assert [(e.overdue, e.blocked) for e in r.pending] == ([expected] if expected else []), event_type
    assert r.work_concerns == {}
    r.pending.clear()
    r.note_work("WorkOrderCompleted", "w2", "q1", "web", NOW)  # on time: nothing to say
    assert r.pending == []


def test_a_review_is_recorded_overdue_once_per_due_date():
    r = relationship(STARTED, REVIEW)
    assert not r.note_review_overdue("f1", date(2026, 11, 20))  # due today: not yet late
    assert r.note_review_overdue("f1", date(2026, 11, 21))
    assert not r.note_review_overdue("f1", date(2026, 11, 22))
    r._apply(ev.FollowUpRescheduled(client_id="c1", follow_up_id="f1", due_on=date(2026, 11, 30), reason="moved"))
    assert not r.note_review_overdue("f1", date(2026, 11, 30))
    assert r.note_review_overdue("f1", date(2026, 12, 1))
    assert [e.due_on for e in r.pending] == [date(2026, 11, 20), date(2026, 11, 30)]
    done = relationship(STARTED, REVIEW)
    done._apply(ev.FollowUpClosed(client_id="c1", follow_up_id="f1", reason="r"))
    assert not done.note_review_overdue("f1", date(2026, 12, 1))


def test_late_and_stuck_work_and_reviews_take_points_off_within_their_caps():
    assert health(HealthInputs(overdue_work=["w1"], blocked_work=["w1"], overdue_reviews=["f1"])).reasons == (
        "-10: 1 work order overdue in delivery",
        "-5: 1 work order blocked in delivery",
        "-10: 1 review past its date",
    )
    many = health(
        HealthInputs(overdue_work=["a", "b", "c"], blocked_work=["a", "b", "c"], overdue_reviews=["x", "y", "z"])
    )
    assert many.score == 100 - 20 - 10 - 20


def recorded(stream: str, seq: int, aggregate: tuple[str, str], event) -> RecordedEvent:  # noqa: ANN001
    envelope = Envelope(
        event_id=f"e{seq}", event_type=event.event_type, schema_version=event.schema_version,
        aggregate_type=aggregate[0], aggregate_id=aggregate[1], occurred_at=NOW + timedelta(hours=seq),
        correlation_id=aggregate[1], actor="alice", payload=event.model_dump(mode="json"),
    )  # fmt: skip
    return RecordedEvent(
        stream, seq, f"{stream.lower()}.{aggregate[0]}.{aggregate[1]}.{event.event_type}", envelope, event
    )


def test_the_reaction_turns_delivery_work_into_the_clients_concern_and_waits_for_the_relationship():
    blocked = dev.WorkOrderBlocked(
        request_id="q1", client_id="c1", work_order_id="w1", department="web", reason="no access", blocked_at=NOW
    )
    cause = recorded("DELIVERY", 3, ("request", "q1"), blocked)
    reaction = FollowDeliveryWork()
    assert reaction.target(cause) == ("client", "c1")
    with pytest.raises(CauseNotReady):
        reaction.decide(AggregateHistory([]), cause)
    history = AggregateHistory([recorded("FOLLOWUP", 1, ("client", "c1"), STARTED)])
    [noted] = reaction.decide(history, cause)
    assert (noted.work_order_id, noted.overdue, noted.blocked, noted.department) == ("w1", False, True, "web")


def test_the_health_projection_counts_work_and_reviews_and_lets_them_go():
    concern = lambda o, b: ev.WorkConcernChanged(  # noqa: E731
        client_id="c1", work_order_id="w1", request_id="q1", department="web", overdue=o, blocked=b, noted_at=NOW
    )
    events = [
        STARTED,
        REVIEW,
        concern(True, False),
        concern(True, True),
        ev.ReviewOverdue(client_id="c1", follow_up_id="f1", due_on=date(2026, 11, 20), detected_on=date(2026, 11, 21)),
        concern(False, False),
        ev.ContactRecorded(
            client_id="c1",
            contact_id="k1",
            follow_up_id="f1",
            channel="phone",
            outcome="reached",
            note="",
            contacted_at=NOW,
            by="alice",
        ),  # fmt: skip
    ]
    projection, row, scores = ClientHealthProjection(), None, []
    for seq, event in enumerate(events, start=1):
        one = recorded("FOLLOWUP", seq, ("client", "c1"), event)
        if projection.wanted(one):
            row = projection.fold(row, one)
            scores.append(row["score"])
    assert scores == [100, 90, 85, 75, 90, 100]
