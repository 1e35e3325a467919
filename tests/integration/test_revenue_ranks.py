"""A client's rank by revenue, counted from the bands of ``followup.revenue_ranks``, is what
listing every other client's revenue gives, whatever the batches the events came in, on SQLite
and PostgreSQL: ties, unknown revenues, amounts on a band's edge and changes across bands."""

import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import Envelope, RecordedEvent
from baton_shared.projections.sql import make_engine

from baton_followup.composition import VIEWS
from baton_followup.domain import TierRules, tier_by_rank, tier_for
from baton_followup.projections import all_projections
from baton_followup.projections.revenue_ranks import band_of
from baton_followup.projections.views import FollowupViews

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
# Ties written two ways, a band's edges on both sides, fractions, nothing below one.
AMOUNTS = ["1000", "250000.50", "250000.5", "99", "1E+6", "999999.99", "0.01", "0", "7000000", "250000.49", "12",
           "100000", "99999", "1009999", "1010000", "1000"]  # fmt: skip


def history(rng: random.Random, clients: int = 60, changes: int = 90) -> tuple[list, dict[str, Decimal | None]]:
    """Registrations and revenue changes, and each client's revenue after them."""
    events: list = []
    revenue: dict[str, Decimal | None] = {}
    for n in range(clients):
        cid = f"c{n:02}"
        amount = None if rng.random() < 0.15 else Decimal(rng.choice(AMOUNTS + [str(rng.randrange(50, 5_000_000))]))
        events.append(ev.ClientRegistered(client_id=cid, name=cid, segment="B2B", account_manager="ann", annual_revenue=amount))  # fmt: skip
        revenue[cid] = amount
    for _ in range(changes):
        cid = rng.choice([*revenue, "never-registered"])
        amount = Decimal(rng.choice(AMOUNTS + [str(rng.randrange(50, 5_000_000))]))
        events.append(ev.ClientRevenueChanged(client_id=cid, annual_revenue=amount, previous_annual_revenue=revenue.get(cid)))  # fmt: skip
        if cid in revenue:
            revenue[cid] = amount
    rng.shuffle(events[clients // 2 : clients])  # registrations interleaved with changes of earlier clients
    return events, revenue


def recorded(events: list) -> list[RecordedEvent]:
    out = []
    for seq, e in enumerate(events, start=1):
        envelope = Envelope(
            event_id=f"e{seq}", event_type=e.event_type, schema_version=e.schema_version, aggregate_type="client",
            aggregate_id=e.client_id, occurred_at=START + timedelta(minutes=seq), correlation_id=e.client_id,
            actor="ann", payload=e.model_dump(mode="json"),
        )  # fmt: skip
        out.append(RecordedEvent("INTAKE", seq, f"intake.client.{e.client_id}.{e.event_type}", envelope, e))
    return out


@pytest.mark.parametrize("batch", [1, 7, 500])
async def test_a_rank_counted_from_the_bands_is_the_rank_among_every_revenue(database_url, batch):
    events, revenue = history(random.Random(batch))
    projections = {p.name: p for p in all_projections()}
    ranks = projections["revenue_ranks"]
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(ranks.metadata.create_all)
        stream = recorded(events)
        for i in range(0, len(stream), batch):
            async with engine.begin() as conn:
                await conn.run_sync(ranks.apply, stream[i : i + batch])
        async with engine.connect() as conn:
            bands = {r.band: r.clients for r in await conn.execute(select(ranks.bands))}
        assert bands == Counter(band_of(r) for r in revenue.values() if r is not None), "a band's count is off"

        views = FollowupViews(engine, *(projections[n] for n in VIEWS), ranks=ranks)
        rules = TierRules(key_share=0.2, key_revenue_threshold=None)
        asked = [*revenue.items(), ("newcomer", Decimal("250000.5")), ("newcomer", Decimal("999999.99")), ("newcomer", None)]  # fmt: skip
        for cid, amount in asked:
            others = [r for c, r in revenue.items() if c != cid]
            higher, known = await views.revenue_rank(amount, excluding=cid)
            assert known == sum(o is not None for o in others), (cid, amount)
            assert higher == sum(1 for o in others if o is not None and o > (amount or 0)), (cid, amount, higher)
            assert tier_by_rank(amount, higher, known, rules) == tier_for(amount, others, rules)
    finally:
        await engine.dispose()


async def test_a_rank_waits_until_the_read_models_hold_every_earlier_client():
    """Counted before then, the rank would leave out clients registered earlier."""
    from baton_shared.reactions import CauseNotReady

    from baton_followup.reactions.intake_clients import FollowIntakeClients

    asked: list[int] = []

    async def behind(seq: int) -> bool:
        asked.append(seq)
        return False

    reaction = FollowIntakeClients(views=None, rules=TierRules(), intake_caught_up=behind)  # type: ignore[arg-type]
    cause = recorded([ev.ClientRegistered(client_id="c1", name="c1", segment="B2B", account_manager="ann", annual_revenue=Decimal(5))])[0]  # fmt: skip
    with pytest.raises(CauseNotReady):
        await reaction.context(cause)
    assert asked == [cause.seq - 1]
