"""Delivery publishes the request's handover state; every view of it copies, none derives.

The four views: the aggregate, delivery's ``request_deliveries``, intake's
``delivery_progress`` and follow-up's ``request_deliveries``. Events stored before the
state was published (v1) must fold to the same states as the ones written now.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import orjson
import pytest
from baton_delivery.domain.delivery import RequestDelivery
from baton_delivery.projections import RequestDeliveriesProjection
from baton_followup.projections.request_deliveries import RequestDeliveriesProjection as FollowupDeliveries
from baton_intake.projections import DeliveryProgressProjection
from baton_shared.contracts import delivery as ev
from baton_shared.contracts import intake, registry
from baton_shared.events.envelope import Envelope

AT = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
IDS = {"request_id": "r1", "client_id": "c1"}


def handoff(handoff_id: str, department: str) -> intake.HandoffRequested:
    return intake.HandoffRequested(
        **IDS,
        handoff_id=handoff_id,
        department=department,
        scope=f"{department} work",
        due_by=date(2026, 2, 1),
        account_manager="alice",
    )


def written_now() -> list[ev.DeliveryEvent]:
    """A request through a reopen, as today's aggregate writes it: ready, new work
    arrives (back in delivery), ready again, rework, ready, accepted."""
    request = RequestDelivery("r1")
    request.open_work_order(handoff("w1", "design"), "h1")
    for step in ("accept", "start", "complete"):
        _do(request, step, "w1")
    request.open_work_order(handoff("w2", "print"), "h2")  # new work while ready for handover
    for step in ("accept", "start", "complete"):
        _do(request, step, "w2")
    request.reject_delivery([ev.ReworkItem(department="print", description="darker")], "nearly")
    for step in ("start", "complete"):
        _do(request, step, "w2")
    request.accept_delivery(5, "lovely", AT)
    return request.pending


def _do(request: RequestDelivery, step: str, wo: str) -> None:
    if step == "accept":
        request.accept(wo, "bob")
    elif step == "start":
        request.start(wo)
    else:
        request.complete(wo, "done", AT)


STATES = [  # after each event of written_now() that moves it, by event type
    ("WorkOrderOpened", "in_delivery"),
    ("RequestReadyForHandover", "ready_for_handover"),
    ("WorkOrderOpened", "in_delivery"),
    ("RequestReadyForHandover", "ready_for_handover"),
    ("DeliveryRejected", "rework"),
    ("RequestReadyForHandover", "ready_for_handover"),
    ("DeliveryAccepted", "accepted"),
]


def recorded(events: list[ev.DeliveryEvent], *, as_v1: bool) -> list:
    """The events as a consumer reads them back; ``as_v1``: stored before the state was published."""
    out = []
    for seq, event in enumerate(events, start=1):
        payload = event.model_dump(mode="json")
        version = event.schema_version
        if as_v1 and version == 2:
            payload.pop("handover")
            version = 1
        envelope = Envelope(
            event_id=f"e{seq}",
            event_type=event.event_type,
            schema_version=version,
            aggregate_type="request",
            aggregate_id="r1",
            occurred_at=AT,
            correlation_id="c",
            actor="t",
            payload=payload,
        )
        data = orjson.dumps(envelope.model_dump(mode="json"))
        out.append(registry.decode("DELIVERY", seq, f"delivery.request.r1.{event.event_type}", data))
    return out


def views_after_each(events: list) -> list[tuple[str, str, str, str]]:
    """(aggregate, delivery's row, intake's row, follow-up's row) handover state after each event."""
    projections = [RequestDeliveriesProjection(), DeliveryProgressProjection(), FollowupDeliveries()]
    rows: list[dict | None] = [None, None, None]
    seen = []
    for n, event in enumerate(events, start=1):
        aggregate = RequestDelivery.rebuild("r1", ((e.seq, e.event) for e in events[:n]))
        rows = [p.fold(row, event) for p, row in zip(projections, rows, strict=True)]
        seen.append((aggregate.handover, rows[0]["handover"], rows[1]["handover"], rows[2]["status"]))
    return seen


@pytest.mark.parametrize("as_v1", [False, True], ids=["published", "stored-before-v2"])
def test_all_four_views_agree_through_a_reopen(as_v1):
    events = recorded(written_now(), as_v1=as_v1)
    seen = views_after_each(events)
    assert all(len(set(states)) == 1 for states in seen), seen
    moving = {event_type for event_type, _ in STATES}
    moves = [
        (e.envelope.event_type, s[0]) for e, s in zip(events, seen, strict=True) if e.envelope.event_type in moving
    ]
    assert moves == STATES


def test_the_state_is_on_the_events_that_move_it():
    moving = [e for e in written_now() if e.event_type in dict(STATES)]
    assert [(e.event_type, e.handover) for e in moving] == STATES
    assert {type(e).schema_version for e in moving} == {2}


def test_a_consumer_copies_what_delivery_published():
    """A consumer does not judge the state itself: whatever delivery decided is what it shows."""
    opened = next(e for e in written_now() if isinstance(e, ev.WorkOrderOpened))
    assert ev.handover_after("rework", opened.model_copy(update={"handover": "rework"})) == "rework"
    assert ev.handover_after("ready_for_handover", opened.model_copy(update={"handover": "ready_for_handover"})) == (
        "ready_for_handover"
    )


def test_intake_and_follow_up_see_each_work_order_the_same_through_a_block():
    """Follow-up's copy of the work-order fold said "in_progress" after an unblock whatever the
    status before the block; intake's went back to it. Both now fold with the contract's one."""
    request = RequestDelivery("r1")
    request.open_work_order(handoff("w1", "design"), "h1")
    request.accept("w1", "bob")
    request.block("w1", "waiting for the client's logo", AT)
    request.unblock("w1", AT)
    events = recorded(request.pending, as_v1=False)
    intake_row = followup_row = None
    for event in events:
        intake_row = DeliveryProgressProjection().fold(intake_row, event)
        followup_row = FollowupDeliveries().fold(followup_row, event)
    assert intake_row["work_orders"] == followup_row["work_orders"]
    assert followup_row["work_orders"]["w1"]["status"] == "accepted"
