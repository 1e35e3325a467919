"""Intake's command handling against the in-memory store (the fake at the repository boundary)."""

from datetime import date, datetime, timezone

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts import intake as ev
from baton_shared.domain import DomainRuleViolation, NotFound
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_intake.application import (
    CancelRequest,
    CaptureNeed,
    IntakeApplication,
    RegisterClient,
    RequestHandoff,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store():
    return InMemoryEventStore(STREAMS["intake"], registry)


@pytest.fixture
def app(store):
    return IntakeApplication(store, clock=lambda: NOW)


async def test_a_handoff_appends_all_departments_at_once(app, store):
    client = await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))
    request = await app.capture_need(CaptureNeed(client_id=client.ids["client_id"], summary="a house"))
    work = (
        ev.WorkItem(department="design", scope="plans", due_by=date(2027, 1, 1)),
        ev.WorkItem(department="production", scope="build", due_by=date(2027, 6, 1)),
    )
    written = await app.request_handoff(
        RequestHandoff(request_id=request.ids["request_id"], work=work, actor="alice", causation_id="http-1")
    )
    assert written.appended == 2 and written.position == 4
    handoffs = [e for e in store.log if e.envelope.event_type == "HandoffRequested"]
    assert {e.event.account_manager for e in handoffs} == {"alice"}
    assert {e.envelope.correlation_id for e in handoffs} == {request.ids["request_id"]}
    assert {e.envelope.causation_id for e in handoffs} == {"http-1"}


async def test_unknown_and_malformed_ids_are_not_found(app):
    with pytest.raises(NotFound):
        await app.capture_need(CaptureNeed(client_id="7b0e1c3e-0000-4000-8000-000000000000", summary="x"))
    with pytest.raises(NotFound):
        await app.cancel_request(CancelRequest(request_id="not.a-uuid>", reason="x"))


async def test_a_refused_command_appends_nothing(app, store):
    client = await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))
    request = await app.capture_need(CaptureNeed(client_id=client.ids["client_id"], summary="x"))
    before = len(store.log)
    with pytest.raises(DomainRuleViolation):
        await app.request_handoff(RequestHandoff(request_id=request.ids["request_id"], work=()))
    assert len(store.log) == before


async def test_a_concurrent_change_is_decided_again_on_fresh_state(app, store):
    client = await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))
    request = await app.capture_need(CaptureNeed(client_id=client.ids["client_id"], summary="x"))
    request_id = request.ids["request_id"]
    real_append = store.append
    raced = False
    conflicts = 0

    async def append_after_a_race(*args):
        nonlocal raced, conflicts
        if not raced:
            raced = True
            # Between the decision and its append, someone cancels.
            await IntakeApplication(store, clock=lambda: NOW).cancel_request(
                CancelRequest(request_id=request_id, reason="other desk")
            )
        try:
            return await real_append(*args)
        except Exception:
            conflicts += 1
            raise

    store.append = append_after_a_race
    work = (ev.WorkItem(department="design", scope="s", due_by=date(2027, 1, 1)),)
    with pytest.raises(DomainRuleViolation, match="cancelled"):
        await app.request_handoff(RequestHandoff(request_id=request_id, work=work))
    assert conflicts == 1  # the first decision lost the race and was made again
    assert [e.envelope.event_type for e in store.log][-1] == "RequestCancelled"
