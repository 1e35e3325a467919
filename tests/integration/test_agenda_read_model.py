"""The agenda's read model, folded from follow-up's events in batches of any size, holds one
entry per open follow-up as the follow-ups' and relationships' own read models make it, and
counts that are exactly its entries', on SQLite and PostgreSQL."""

import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.events.envelope import Envelope, RecordedEvent
from baton_shared.projections.sql import make_engine
from sqlalchemy import select

from baton_followup.projections import AgendaProjection, FollowUpsProjection, RelationshipsProjection
from baton_followup.projections.agenda import COUNTED, EVERYONE, entry_of, scope_of

START = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
KINDS = ("review", "satisfaction", "offer", "recovery", "reactivation")


def history(rng: random.Random, clients: int = 25, events: int = 900) -> list[ev.FollowupEvent]:
    """Relationships and follow-ups of a few clients, with every change the agenda depends on."""
    out: list[ev.FollowupEvent] = []
    open_ids: dict[str, list[str]] = {f"c{n:02}": [] for n in range(clients)}
    started: set[str] = set()
    for n in range(events):
        cid = rng.choice(list(open_ids))
        at = START + timedelta(hours=n)
        choice = rng.random()
        if cid not in started and choice < 0.7:
            started.add(cid)
            policy = ContactPolicy(
                do_not_contact=rng.random() < 0.1, max_contacts_per_30_days=rng.choice((0, 1, 2, 4, 4))
            )
            group = "g1" if rng.random() < 0.1 else None
            out.append(
                ev.RelationshipStarted(
                    client_id=cid, client_name=cid, account_manager=rng.choice(("ann", "bob")),
                    contact_policy=policy, contact_group=group,
                )
            )  # fmt: skip
        elif choice < 0.35 or not open_ids[cid]:
            fid = f"{cid}-f{n}"
            open_ids[cid].append(fid)
            due = date(2026, 5, 1) + timedelta(days=rng.randrange(-10, 40))
            out.append(
                ev.FollowUpScheduled(client_id=cid, follow_up_id=fid, kind=rng.choice(KINDS), due_on=due, reason="r")
            )
        elif choice < 0.45:
            fid = rng.choice(open_ids[cid])
            out.append(ev.FollowUpRescheduled(client_id=cid, follow_up_id=fid, due_on=date(2026, 5, 1) + timedelta(days=rng.randrange(40)), reason="r"))  # fmt: skip
        elif choice < 0.52:
            out.append(ev.FollowUpClosed(client_id=cid, follow_up_id=open_ids[cid].pop(), reason="done"))
        elif choice < 0.75:
            fid = rng.choice([*open_ids[cid], None])
            outcome = rng.choice(("reached", "no_answer", "left_message", "stop"))
            out.append(
                ev.ContactRecorded(
                    client_id=cid, contact_id=f"k{n}", follow_up_id=fid, channel="phone", outcome=outcome,
                    # a few ahead of the moment they are recorded at
                    contacted_at=at + timedelta(days=rng.choice((0, 0, 0, 0, 20))), by="ann",
                )
            )  # fmt: skip
        elif choice < 0.82:
            out.append(
                ev.ClientTiered(
                    client_id=cid, tier=rng.choice(("key", "standard")), review_every_days=90,
                    annual_revenue=None, reason="r",
                )
            )  # fmt: skip
        elif choice < 0.87:
            out.append(ev.ManagementDelegated(client_id=cid, managed_by=rng.choice(("agency", None)), by="ann"))
        elif choice < 0.93:
            out.append(ev.ContactPolicyAdopted(client_id=cid, contact_policy=ContactPolicy(max_contacts_per_30_days=rng.choice((1, 4)))))  # fmt: skip
        else:
            out.append(
                ev.HandoverBriefPrepared(
                    client_id=cid, brief_id=f"b{n}", account_manager=rng.choice(("ann", "bob", "cid")),
                    previous_account_manager=None, brief={},
                )
            )  # fmt: skip
    return out


def recorded(events: list[ev.FollowupEvent]) -> list[RecordedEvent]:
    out = []
    for seq, e in enumerate(events, start=1):
        envelope = Envelope(
            event_id=f"e{seq}", event_type=e.event_type, schema_version=e.schema_version, aggregate_type="client",
            aggregate_id=e.client_id, occurred_at=START + timedelta(hours=seq), correlation_id=e.client_id,
            actor="ann", payload=e.model_dump(mode="json"),
        )  # fmt: skip
        out.append(RecordedEvent("FOLLOWUP", seq, f"followup.client.{e.client_id}.{e.event_type}", envelope, e))
    return out


async def folded(url: str, events: list[RecordedEvent], batch: int) -> tuple[dict, dict, dict, list]:
    """The agenda's entries and counts after ``events`` in batches of ``batch``, and what the
    follow-ups' and relationships' read models make of the same events."""
    agenda, follow_ups, relationships = AgendaProjection(), FollowUpsProjection(), RelationshipsProjection()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for p in (agenda, follow_ups, relationships):
                await conn.run_sync(p.metadata.drop_all)
                await conn.run_sync(p.metadata.create_all)
        for i in range(0, len(events), batch):
            async with engine.begin() as conn:
                for p in (agenda, follow_ups, relationships):
                    await conn.run_sync(p.apply, events[i : i + batch])
        async with engine.connect() as conn:
            entries = {r["follow_up_id"]: dict(r) for r in (await conn.execute(select(agenda.entries))).mappings()}
            counts = {(r.scope, r.standing, r.due_on): r.n for r in await conn.execute(select(agenda.counts))}
            fus = [dict(r) for r in (await conn.execute(select(follow_ups.table))).mappings()]
            rels = {r["client_id"]: dict(r) for r in (await conn.execute(select(relationships.table))).mappings()}
    finally:
        await engine.dispose()
    expected = {f["follow_up_id"]: entry_of(f, rels[f["client_id"]]) for f in fus if f["status"] == "open"}
    return entries, counts, expected, fus


def counted(entries: dict) -> dict:
    out: Counter = Counter()
    for e in entries.values():
        if e["standing"] in COUNTED:
            out[(EVERYONE, e["standing"], e["due_on"])] += 1
            out[(scope_of(e["account_manager"]), e["standing"], e["due_on"])] += 1
    return dict(out)


def comparable(entries: dict) -> dict:
    def moment(v):  # noqa: ANN001, ANN202
        return v.replace(tzinfo=timezone.utc) if isinstance(v, datetime) and v.tzinfo is None else v

    return {k: {c: moment(v) for c, v in e.items()} for k, e in entries.items()}


async def test_the_agenda_read_model_is_its_sources_in_any_batches(database_url):
    events = recorded(history(random.Random(7)))
    whole = await folded(database_url, events, batch=500)
    one_by_one = await folded(database_url, events, batch=1)
    for entries, counts, expected, _ in (whole, one_by_one):
        assert comparable(entries) == comparable(expected)
        assert counts == counted(entries)
        assert all(n > 0 for n in counts.values())
    assert comparable(whole[0]) == comparable(one_by_one[0]) and whole[1] == one_by_one[1]
    # The history reaches every standing, and entries that leave the agenda.
    assert {e["standing"] for e in whole[0].values()} == {"open", "held", "stopped", "python"}
    assert any(f["status"] != "open" for f in whole[3])
    assert any(e["last_contact_at"] is not None and e["standing"] == "open" for e in whole[0].values())
