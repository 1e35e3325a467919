"""Commands decided on the history a store remembers (no round trip), with two writers on one
stream: the server's concurrency check catches an append decided on a history that is behind,
and a refusal or a no-op decided on one is decided again on a fresh load."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from baton_delivery.application import AcceptWorkOrder, CompleteWork, DeliveryApplication, RecordProgress, StartWork
from baton_delivery.domain import RequestDelivery
from baton_intake.application import IntakeApplication
from baton_intake.application import commands as c
from baton_shared.contracts import STREAMS, delivery, intake, registry
from baton_shared.domain import DomainRuleViolation
from baton_shared.eventstore import NewEvent
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import provision_stream

pytestmark = pytest.mark.nats
SPEC = STREAMS["delivery"]


class Directory:
    def __init__(self) -> None:
        self.requests: dict[str, str] = {}

    async def request_of(self, work_order_id: str) -> str | None:
        return self.requests.get(work_order_id)


@pytest.fixture
async def replicas(nats):
    """Two delivery applications, each with its own store (and memory), on one stream."""
    await provision_stream(nats, SPEC)
    directory = Directory()
    stores = [JetStreamEventStore(nats, SPEC, registry) for _ in range(2)]
    return [DeliveryApplication(s, directory) for s in stores], stores, directory


async def open_work_order(store, directory, department: str = "design") -> tuple[str, str]:
    request_id, work_order_id = str(uuid.uuid4()), str(uuid.uuid4())
    delivery = RequestDelivery(request_id)
    delivery.open_work_order(
        intake.HandoffRequested(
            request_id=request_id,
            client_id=str(uuid.uuid4()),
            handoff_id=work_order_id,
            department=department,
            scope="s",
            due_by=date(2030, 1, 1),
            account_manager="alice",
        ),
        "cause",
    )
    await store.append(
        "request", request_id, 0, [NewEvent(e, correlation_id=request_id, actor="t") for e in delivery.pending]
    )
    directory.requests[work_order_id] = request_id
    return request_id, work_order_id


async def statuses(store, request_id: str) -> list[str]:
    return [e.envelope.event_type for e in (await store.history("request", request_id)).events]


async def test_a_store_recalls_what_it_remembers_without_asking_and_loads_what_it_does_not(replicas, monkeypatch):
    _, (a, b), directory = replicas
    request_id, _ = await open_work_order(a, directory)
    asked = []
    real = a._gets.last
    monkeypatch.setattr(a._gets, "last", lambda *args, **kw: asked.append(args) or real(*args, **kw))
    history = await a.remembered_history("request", request_id)
    assert history.remembered and asked == [] and [e.envelope.event_type for e in history.events] == ["WorkOrderOpened"]
    fresh = await b.remembered_history("request", request_id)  # b never saw it: a load
    assert not fresh.remembered and fresh.version == history.version


async def test_a_refusal_decided_on_a_history_that_is_behind_is_decided_again_on_a_load(replicas):
    """Replica B accepted the work order; A still remembers it as opened, where "start" is refused.
    A decides again on a load and starts it."""
    (app_a, app_b), (a, _), directory = replicas
    request_id, wo = await open_work_order(a, directory)
    await app_b.accept(AcceptWorkOrder(work_order_id=wo, member="bob", actor="t"))
    assert (await a.remembered_history("request", request_id)).remembered  # A's memory: opened only
    written = await app_a.start(StartWork(work_order_id=wo, actor="t"))
    assert written.appended == 1
    assert await statuses(a, request_id) == ["WorkOrderOpened", "WorkOrderAccepted", "WorkOrderStarted"]


async def test_an_append_decided_on_a_history_that_is_behind_is_refused_by_the_server_and_decided_again(replicas):
    """A remembers the work order in progress; B completes it. A's "progress" note, decided on its
    memory, is refused by the server (the version moved), decided again on a load, and refused
    by the rules: nothing is appended."""
    (app_a, app_b), (a, _), directory = replicas
    request_id, wo = await open_work_order(a, directory)
    for step in (
        lambda: app_a.accept(AcceptWorkOrder(work_order_id=wo, member="bob", actor="t")),
        lambda: app_a.start(StartWork(work_order_id=wo, actor="t")),
    ):
        await step()
    await app_b.complete(CompleteWork(work_order_id=wo, note="done", actor="t"))
    with pytest.raises(DomainRuleViolation, match="it is completed"):
        await app_a.progress(RecordProgress(work_order_id=wo, note="still going", percent=50, actor="t"))
    assert (await statuses(a, request_id))[-1] in ("WorkOrderCompleted", "RequestReadyForHandover")
    assert "WorkOrderProgressed" not in await statuses(a, request_id)


async def test_nothing_to_do_decided_on_a_history_that_is_behind_is_decided_again_on_a_load(nats):
    """Intake's A remembers the client's revenue at 100; B changes it to 200. A is asked to set 100:
    its memory says nothing changes, the load says it does, and the change is recorded."""
    await provision_stream(nats, STREAMS["intake"])
    a, b = (IntakeApplication(JetStreamEventStore(nats, STREAMS["intake"], registry)) for _ in range(2))
    written = await a.register_client(
        c.RegisterClient(name="Acme", segment="B2B", account_manager="alice", annual_revenue=Decimal(100))
    )
    client_id = written.ids["client_id"]
    await b.change_revenue(c.ChangeRevenue(client_id=client_id, annual_revenue=Decimal(200)))
    assert (await a.store.remembered_history("client", client_id)).remembered
    again = await a.change_revenue(c.ChangeRevenue(client_id=client_id, annual_revenue=Decimal(100)))
    assert again.appended == 1
    history = await b.store.history("client", client_id)
    assert [e.event.annual_revenue for e in history.events if e.envelope.event_type == "ClientRevenueChanged"] == [
        200,
        100,
    ]


async def test_a_failed_look_for_an_earlier_attempt_forgets_the_remembered_history(replicas, monkeypatch):
    """A conflict makes the store look for its own earlier attempt (``_stored_after``). When that
    look fails (the server does not answer), the remembered history is behind all the same: it is
    dropped, so the next command decides on a load, not again on the same stale history."""
    (_, app_b), (a, _), directory = replicas
    request_id, wo = await open_work_order(a, directory)
    await app_b.accept(AcceptWorkOrder(work_order_id=wo, member="bob", actor="t"))  # A's memory is now behind
    remembered = await a.remembered_history("request", request_id)
    assert remembered.remembered and remembered.version == 1

    async def no_answer(*args, **kw):
        raise TimeoutError("no answer")

    monkeypatch.setattr(a._gets, "batch", no_answer)
    started = NewEvent(
        delivery.WorkOrderStarted(request_id=request_id, client_id="c", work_order_id=wo, department="design"),
        correlation_id=request_id,
        actor="t",
    )
    with pytest.raises(TimeoutError):
        await a.append("request", request_id, remembered.version, [started])
    monkeypatch.undo()
    again = await a.remembered_history("request", request_id)
    assert not again.remembered and again.version > remembered.version
