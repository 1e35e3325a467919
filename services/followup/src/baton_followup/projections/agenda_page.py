"""A page of the agenda and its counts, read from the agenda's own read model (``agenda``).

The entries the policy decides whatever the time are counted from the kept counts and
walked in the agenda's order from an index, a query per standing and rank; time only moves
the few entries whose cap releases later, or whose client has a contact recorded ahead of
now. Offers, accounts in contact groups and those few are decided in Python, as recording a
contact would, and merged in order. So a page costs what its offset, its length and the
clients contacted lately cost, not what the log holds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Table, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_shared.projections.sql import bytewise, json_row, stored_utc

from baton_followup.domain import refusal
from baton_followup.domain.contact_policy import HELD_FOR_GOOD, Refusal
from baton_followup.domain.one_voice import group_refusal, managed_elsewhere
from baton_followup.projections.agenda import RANKS, rank_of, scope_of
from baton_followup.projections.relationships import contact_state


class AgendaSources(Protocol):
    """What a page reads: the agenda's tables, and the listing's (follow-up's views)."""

    engine: AsyncEngine
    agenda_entries: Table
    agenda_counts: Table
    fu: Table
    rel: Table
    opp: Table
    rec: Table

    async def groups_of(self, conn: AsyncConnection, rows: list) -> dict: ...


_HIDDEN_FROM_AGENDA = (
    "contact_policy",
    "stopped_on",
    "contact_times",
    "cool_downs",
    "recovering",
    "contact_groups",
    "managed_by",
)


def agenda_refusal(row, groups: dict, now: datetime) -> Refusal | None:  # noqa: ANN001
    """Why the policy holds this follow-up back now, as recording its contact would decide:
    someone else manages the account, the account's own policy (with an offer's rules), its groups."""
    offer_kind = row["offer_kind"] if row["kind"] == "offer" else None
    refused = managed_elsewhere(row["managed_by"]) or refusal(contact_state(row), now, offer_kind=offer_kind)
    return refused if refused is not None else groups_refusal(row, groups, now)


def groups_refusal(row, groups: dict, now: datetime) -> Refusal | None:  # noqa: ANN001
    """What the account's contact groups would answer a contact now, as recording it would ask them."""
    for group_id in row["contact_groups"] or []:
        if group_id not in groups:
            continue
        slots, accounts = groups[group_id]
        refused = group_refusal(slots, row["client_id"], now, {**accounts, row["client_id"]: contact_state(row)})
        if refused is not None:
            return refused
    return None


def _order(row) -> tuple:  # noqa: ANN001
    """The agenda's order: recoveries, key accounts, the most overdue, then the id (code points)."""
    return (rank_of(row["kind"], row["tier"]), row["due_on"], row["follow_up_id"])


def _item(row, refused: Refusal | None, today: date) -> dict:  # noqa: ANN001
    item = json_row(row)
    item["may_contact"] = refused is None
    item["not_now_code"] = None if refused is None else refused.code
    item["not_now"] = None if refused is None else refused.reason
    for column in _HIDDEN_FROM_AGENDA:
        item.pop(column)
    item["overdue_days"] = max(0, (today - row["due_on"]).days)
    return item


class AgendaPage:
    """One request's statements: the counts, the entries time moves, the undecided, the walks."""

    def __init__(self, views: AgendaSources, account_manager: str | None, due_before: date, now: datetime) -> None:
        self.views, self.now = views, now
        self.scope = scope_of(account_manager)
        ag = self.ag = views.agenda_entries
        self.counts = views.agenda_counts
        self.due = [ag.c.due_on <= due_before]
        if account_manager is not None:
            self.due.append(ag.c.account_manager == account_manager)
        self.account_manager, self.due_before = account_manager, due_before
        fu, rel, opp = views.fu, views.rel, views.opp
        recovering = exists().where(views.rec.c.client_id == fu.c.client_id, views.rec.c.status == "open")
        self.listing = select(
            fu,
            rel.c.account_manager,
            rel.c.client_name,
            rel.c.tier,
            rel.c.contact_policy,
            rel.c.stopped_on,
            rel.c.contact_times,
            rel.c.cool_downs,
            rel.c.contact_groups,
            rel.c.managed_by,
            opp.c.kind.label("offer_kind"),
            opp.c.title.label("offer_title"),
            recovering.label("recovering"),
        ).select_from(
            fu.join(rel, rel.c.client_id == fu.c.client_id).outerjoin(opp, opp.c.opportunity_id == fu.c.opportunity_id)
        )  # by id; whether still open is asked of each row, so that no index on the status leads

    async def counted(self, conn: AsyncConnection) -> dict[str, int]:
        c = self.counts
        rows = await conn.execute(
            select(c.c.standing, func.sum(c.c.n))
            .where(c.c.scope == self.scope, c.c.due_on <= self.due_before)
            .group_by(c.c.standing)
        )
        return {standing: int(n or 0) for standing, n in rows}

    async def moved_by_time(self, conn: AsyncConnection) -> list[Any]:
        """The entries time decides on: a cap that releases later, or a contact recorded ahead of
        now. As many as the clients contacted lately; each found by its moment alone (the only
        index such a statement can use, whatever SQLite's sampled statistics guess), and the
        page's other terms asked of each in Python."""
        ag, now = self.ag, self.now
        found: dict[str, Any] = {}
        for moment in (ag.c.allowed_from, ag.c.last_contact_at):
            rows = await conn.execute(select(ag).where(moment > now, moment < HELD_FOR_GOOD))
            found.update((r.follow_up_id, r) for r in rows)
        manager = self.account_manager
        return [
            r
            for r in found.values()
            if r.due_on <= self.due_before and (manager is None or r.account_manager == manager)
        ]

    async def undecided(self, conn: AsyncConnection, ahead: set[str]) -> list[Any]:
        """Offers, accounts in contact groups, and entries with a contact ahead (``ahead``), as listed."""
        ag, fu = self.ag, self.views.fu
        python = select(ag.c.follow_up_id).where(*self.due, ag.c.standing == "python", ag.c.rank.in_(RANKS))
        rows = list((await conn.execute(self.listing.where(fu.c.follow_up_id.in_(python)))).mappings())
        if ahead:
            rows += (await conn.execute(self.listing.where(fu.c.follow_up_id.in_(list(ahead))))).mappings()
        return [r for r in rows if r["status"] == "open"]

    async def walk(self, conn: AsyncConnection, standing: str, n: int) -> list[tuple]:
        """The first ``n`` order keys of one standing that the database decides, rank by rank."""
        ag, now = self.ag, self.now
        found: list[tuple] = []
        for rank in RANKS:
            if len(found) >= n:
                break
            where = [*self.due, ag.c.standing == standing, ag.c.rank == rank]
            if standing != "held":
                where.append(or_(ag.c.last_contact_at.is_(None), ag.c.last_contact_at <= now))
            if standing == "open":
                where.append(ag.c.allowed_from <= now)
            rows = await conn.execute(
                select(ag.c.rank, ag.c.due_on, ag.c.follow_up_id)
                .where(*where)
                .order_by(ag.c.due_on, bytewise(conn, ag.c.follow_up_id))
                .limit(n - len(found))
            )
            found += [tuple(r) for r in rows]
        return found

    async def listed(self, conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Any]:
        statement = self.listing.where(self.views.fu.c.follow_up_id.in_(list(ids)))
        return {r["follow_up_id"]: r for r in (await conn.execute(statement)).mappings() if r["status"] == "open"}


async def agenda_page(
    views: AgendaSources,
    account_manager: str | None,
    due_before: date,
    now: datetime,
    limit: int,
    offset: int,
    held: bool,
) -> tuple[list[dict], int]:
    q = AgendaPage(views, account_manager, due_before, now)
    async with views.engine.connect() as conn:
        counted = await q.counted(conn)
        moved = await q.moved_by_time(conn)
        ahead = {r.follow_up_id for r in moved if r.standing in ("open", "stopped") and _after(r.last_contact_at, now)}
        released_later = sorted(
            (r.rank, r.due_on, r.follow_up_id)
            for r in moved
            if r.standing == "open" and r.follow_up_id not in ahead and _after(r.allowed_from, now)
        )
        stopped_ahead = sum(1 for r in moved if r.follow_up_id in ahead and r.standing == "stopped")
        open_moved = sum(
            1 for r in moved if r.standing == "open" and (r.follow_up_id in ahead or _after(r.allowed_from, now))
        )

        undecided = await q.undecided(conn, ahead)
        groups = await views.groups_of(conn, undecided)
        checked = [(r, agenda_refusal(r, groups, now)) for r in undecided]
        extra_allowed = sorted(((_order(r), r, None, False) for r, why in checked if why is None), key=_first)
        extra_held = sorted(((_order(r), r, why, True) for r, why in checked if why is not None), key=_first)

        allowed_total = counted.get("open", 0) - open_moved + len(extra_allowed)
        held_total = counted.get("held", 0) + counted.get("stopped", 0) - stopped_ahead + len(released_later)
        held_total += len(extra_held)
        chosen: list[tuple] = []
        if offset < allowed_total:
            walked = [(key, None, None, False) for key in await q.walk(conn, "open", offset + limit)]
            chosen = list(itertools.islice(heapq.merge(walked, extra_allowed, key=_first), offset, offset + limit))
        total = allowed_total
        if held:
            total += held_total
            wanted = offset + limit - allowed_total
            if wanted > 0 and len(chosen) < limit:
                streams = [
                    [(key, None, None, True) for key in await q.walk(conn, s, wanted)] for s in ("held", "stopped")
                ]
                sql_held = heapq.merge(*streams, [(key, None, None, True) for key in released_later], key=_first)
                merged = heapq.merge(sql_held, extra_held, key=_first)
                chosen += list(itertools.islice(merged, max(0, offset - allowed_total), wanted))[: limit - len(chosen)]
        rows = await q.listed(conn, [key[2] for key, row, _, _ in chosen if row is None])
    return list(_items(chosen, rows, now)), total


def _after(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and stored_utc(moment) > now


def _first(entry: tuple) -> tuple:
    return entry[0]


def _items(chosen: list[tuple], listed: dict[str, Any], now: datetime) -> Iterator[dict]:
    for key, row, why, held in chosen:
        if row is None:
            row = listed.get(key[2])
            if row is None:
                continue  # not in follow-up's own read models yet
            why = agenda_refusal(row, {}, now) if held else None
        yield _item(row, why, now.date())
