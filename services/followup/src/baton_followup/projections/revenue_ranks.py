"""Every client's annual revenue, in bands that count their clients, projected from intake's
stream: a new client's rank by revenue is counted without walking every client above it.

A band is an amount's number of digits and its first three digits (``band_of``). Bands keep
the amounts' order, so the clients above an amount are the counts of the bands above its
own, plus its own band's clients above it: a walk of one band's index entries, not of
everyone's: there are 900 bands a decade.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    bindparam,
    func,
    select,
)

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import Projection
from baton_shared.projections.sql import load_rows, move_counts, upsert

_WANTED = (ev.ClientRegistered, ev.ClientRevenueChanged)


def band_of(amount: Decimal) -> int:
    """The band of ``amount``: digits of its whole part * 1000 + its first three digits (0 below 1)."""
    whole = int(amount)
    if whole <= 0:
        return 0
    digits = str(whole)
    return len(digits) * 1000 + int(digits[:3].ljust(3, "0"))


class RevenueRanksProjection(Projection):
    name = "revenue_ranks"
    source = "intake"
    per_client = False  # the bands count every client together

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.revenues = Table(
            f"client_revenues{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("amount", Numeric),  # None: the client's revenue is unknown
            Column("band", Integer),
            Index(f"ix_client_revenues{suffix}_band", "band", "amount"),
        )
        self.bands = Table(
            f"revenue_bands{suffix}",
            metadata,
            Column("band", Integer, primary_key=True),
            Column("clients", Integer, nullable=False),
        )

    def touches(self, events: list[RecordedEvent]) -> bool:
        return any(isinstance(e.event, _WANTED) for e in events)

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        mine = [e for e in events if isinstance(e.event, _WANTED)]
        if not mine:
            return
        ids = list(dict.fromkeys(e.event.client_id for e in mine))
        before = load_rows(conn, self.revenues, "client_id", ids)
        after = dict(before)
        for recorded in mine:
            e = recorded.event
            if isinstance(e, ev.ClientRevenueChanged) and e.client_id not in after:
                continue  # as the profiles: no client registered, nothing to change
            amount = e.annual_revenue
            band = None if amount is None else band_of(amount)
            after[e.client_id] = {"client_id": e.client_id, "amount": amount, "band": band}
        moved: Counter = Counter()
        changed = []
        for cid, row in after.items():
            old = before.get(cid)
            if old is not None and old["band"] == row["band"] and old["amount"] == row["amount"]:
                continue
            changed.append(row)
            if old is not None and old["band"] is not None:
                moved[old["band"]] -= 1
            if row["band"] is not None:
                moved[row["band"]] += 1
        upsert(conn, self.revenues, changed, ["client_id"])
        move_counts(conn, self.bands, ("band",), {(band,): n for band, n in moved.items()}, count="clients")


def rank_query(revenues: Table, bands: Table) -> Select:
    """The counts a rank is made of, built once and run with ``band``, ``amount`` and ``client``:
    clients in the bands above ``band``, clients of ``band`` above ``amount``, clients with a
    known revenue, and ``client``'s own amount (None when not known)."""
    band, amount = bindparam("band", type_=Integer), bindparam("amount", type_=revenues.c.amount.type)
    clients = func.coalesce(func.sum(bands.c.clients), 0)
    return select(
        select(clients).where(bands.c.band > band).scalar_subquery(),
        select(func.count()).where(revenues.c.band == band, revenues.c.amount > amount).scalar_subquery(),
        select(clients).scalar_subquery(),
        select(revenues.c.amount).where(revenues.c.client_id == bindparam("client")).scalar_subquery(),
    )
