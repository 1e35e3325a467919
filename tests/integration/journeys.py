"""Realistic client journeys written through intake's application layer."""

from __future__ import annotations

import random
from datetime import date, datetime, timezone

from baton_shared.contracts import intake as ev
from baton_shared.domain import DomainRuleViolation
from baton_intake.application import (
    AddClientNote,
    AssignAccountManager,
    CancelRequest,
    CaptureNeed,
    IntakeApplication,
    RecordClarification,
    RegisterClient,
    RequestChange,
    RequestHandoff,
    SetContactPolicy,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
DEPARTMENTS = ["design", "production", "logistics", "finance", "support"]


async def write_journeys(store, clients: int = 20, seed: int = 7) -> list[str]:
    """Write ``clients`` journeys; returns the client ids."""
    rnd = random.Random(seed)
    app = IntakeApplication(store, clock=lambda: NOW)
    ids = []
    for n in range(clients):
        client = await app.register_client(
            RegisterClient(
                name=f"Client {n:03}",
                segment=rnd.choice(["B2B", "B2C"]),
                account_manager=rnd.choice(["alice", "bob"]),
                contacts=(ev.Contact(name=f"Person {n}", email=f"p{n}@example.com"),),
                annual_revenue=rnd.randint(10_000, 20_000_000),
            )
        )
        cid = client.ids["client_id"]
        ids.append(cid)
        await app.add_client_note(AddClientNote(client_id=cid, text=f"prefers e-mail ({n})"))
        if rnd.random() < 0.3:
            await app.assign_account_manager(AssignAccountManager(client_id=cid, account_manager=f"carol{n}"))
        if rnd.random() < 0.3:
            await app.set_contact_policy(
                SetContactPolicy(client_id=cid, policy=ev.ContactPolicy(max_contacts_per_30_days=2))
            )
        for _ in range(rnd.randint(1, 3)):
            request = await app.capture_need(CaptureNeed(client_id=cid, summary="a need", requirements={"floors": 2}))
            rid = request.ids["request_id"]
            await app.record_clarification(RecordClarification(request_id=rid, question="when?", answer="spring"))
            departments = rnd.sample(DEPARTMENTS, rnd.randint(1, 3))
            work = tuple(ev.WorkItem(department=d, scope="do it", due_by=date(2027, 3, 1)) for d in departments)
            await app.request_handoff(RequestHandoff(request_id=rid, work=work))
            if rnd.random() < 0.5:
                await app.request_change(RequestChange(request_id=rid, department=departments[0], description="bigger"))
            if rnd.random() < 0.2:
                try:
                    await app.cancel_request(CancelRequest(request_id=rid, reason="budget"))
                except DomainRuleViolation:
                    pass
    return ids
