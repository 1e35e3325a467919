"""The five reports: punctuality, lead times, portfolios, rotation, revenue.

Conventions (docs/architecture.md, *Reports*): a period is ``[start, end)`` in whole UTC
days; percentiles are nearest-rank (p50 of 1, 2, 3, 4 is 2; p90 of ten values the 9th);
durations are in days with two decimals; money is a decimal string, summed exactly.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from baton_shared.contracts.followup import DeliveredValue, RefusalCode
from baton_shared.projections.sql import bytewise, stored_utc
from baton_shared.projections.sqlite_placement import off_the_loop
from sqlalchemy import (
    REAL,
    BigInteger,
    Date,
    DateTime,
    Integer,
    Numeric,
    Table,
    and_,
    cast,
    func,
    literal_column,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_followup.projections.report_facts import ReportsFromDelivery, ReportsFromFollowup, ReportsFromIntake

REFUSAL_CODES: tuple[str, ...] = RefusalCode.__args__  # type: ignore[attr-defined]
DELIVERED_VALUES: tuple[str, ...] = DeliveredValue.__args__  # type: ignore[attr-defined]
_PERIOD = re.compile(r"^([12]\d{3})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    label: str

    @classmethod
    def parse(cls, text: str | None, today: date) -> Period:
        """``2026-09`` (a month, the default: this one), ``2026-Q3`` (a quarter) or ``2026`` (a year)."""
        if text is None:
            text = f"{today.year:04d}-{today.month:02d}"
        found = _PERIOD.match(text)
        if found is None:
            raise ValueError(f"period {text!r}: expected YYYY-MM, YYYY-Qn or YYYY")
        year, month, quarter = int(found[1]), found[2], found[3]
        if month:
            start, months = date(year, int(month), 1), 1
        elif quarter:
            start, months = date(year, 3 * int(quarter) - 2, 1), 3
        else:
            start, months = date(year, 1, 1), 12
        return cls(start, _add_months(start, months), text)

    def months(self) -> list[date]:
        out, month = [], self.start
        while month < self.end:
            out.append(month)
            month = _add_months(month, 1)
        return out

    def holds(self, moment: datetime | date | None) -> bool:
        if moment is None:
            return False
        day = moment.date() if isinstance(moment, datetime) else moment
        return self.start <= day < self.end

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "from": self.start.isoformat(), "to": self.end.isoformat()}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def nearest_rank(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _days(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (stored_utc(later) - stored_utc(earlier)).total_seconds() / 86400


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Facts:
    """The three fact projections a report reads (the live ones, or point-in-time copies)."""

    intake: ReportsFromIntake
    delivery: ReportsFromDelivery
    followup: ReportsFromFollowup

    def t(self, name: str) -> Table:
        for projection in (self.intake, self.delivery, self.followup):
            if name in projection.tables:
                return projection.tables[name]
        raise KeyError(name)


@dataclass(frozen=True)
class Filters:
    period: Period
    today: date
    account_manager: str | None = None
    department: str | None = None
    rotation_warning_changes: int = 2


async def _rows(conn: AsyncConnection, statement) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(statement)).mappings()]


class Rows(Sequence):
    """A report's rows as the database gave them, each made into its dict when read: a kept
    computation holds 20k rows, a page reads 200 of them. ``notes`` are figures about the
    whole report (rotation's list of clients rotated too often)."""

    def __init__(self, raw: Sequence, shape: Callable[[Any], dict], notes: dict | None = None) -> None:
        self.raw, self.shape, self.notes = raw, shape, notes or {}

    @classmethod
    def made(cls, rows: list[dict]) -> Rows:
        return cls(rows, _same)

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[dict]:
        return map(self.shape, self.raw)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - an int or a slice, as a list takes
        if isinstance(index, slice):
            return [self.shape(row) for row in self.raw[index]]
        return self.shape(self.raw[index])


def _same(row: dict) -> dict:
    return row


# --- punctuality per department ---------------------------------------------------------


async def punctuality(conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
    """Work orders due in the period, per department: on time, late (lateness median and p90,
    in days, by the first completion), still overdue, blocked time, rework rounds per request."""
    wo = facts.t("report_work_orders")
    where = [wo.c.due_by >= f.period.start, wo.c.due_by < f.period.end, wo.c.status != "cancelled"]
    if f.department:
        where.append(wo.c.department == f.department)
    if f.account_manager:
        where.append(wo.c.account_manager == f.account_manager)
    # Counted by the database; only the late ones' lateness comes back, for the percentiles.
    done, due = wo.c.first_completed_at, wo.c.due_by
    on_time = done < _day_after(conn, due)
    counts = (
        select(
            wo.c.department,
            func.count(),
            func.count().filter(on_time),
            func.count().filter(done.is_(None), due < f.today),
            func.count().filter(done.is_(None), due >= f.today),
            func.coalesce(func.sum(wo.c.blocked_seconds), 0.0),
            func.coalesce(func.sum(wo.c.rework_rounds), 0),
            func.count(wo.c.request_id.distinct()),
        )
        .where(*where)
        .group_by(wo.c.department)
        .order_by(wo.c.department)
    )
    lateness: dict[str, list[float]] = defaultdict(list)
    late_rows = select(wo.c.department, _days_late(conn, done, due)).where(*where, done.is_not(None), ~on_time)
    for department, days in (await conn.execute(late_rows)).all():
        lateness[department].append(float(round(days)))
    out = []
    for department, n, in_time, overdue, open_, blocked, rework, requests in (await conn.execute(counts)).all():
        late = lateness[department]
        out.append(
            {
                "department": department,
                "due": n,
                "on_time": in_time,
                "late": len(late),
                "late_median_days": nearest_rank(late, 0.5),
                "late_p90_days": nearest_rank(late, 0.9),
                "still_overdue": overdue,
                "open_not_yet_due": open_,
                "blocked_hours": round(float(blocked) / 3600, 2),
                "rework_rounds": int(rework),
                "rework_rounds_per_request": round(int(rework) / requests, 2),
            }
        )
    return Rows.made(out)


def _day_after(conn: AsyncConnection, day):  # noqa: ANN001, ANN202 - SQL expressions
    """The first moment (UTC) after the day ``day``, comparable with a stored timestamp."""
    if conn.dialect.name == "postgresql":
        return func.timezone("UTC", func.cast(day + literal_column("1"), DateTime()))
    return func.date(day, "+1 day")  # SQLite: '2026-03-10 09:00:00' < '2026-03-11'


def _days_late(conn: AsyncConnection, done, due):  # noqa: ANN001, ANN202 - SQL expressions
    """Whole days from the due date to the day (UTC) ``done`` falls on."""
    if conn.dialect.name == "postgresql":
        return func.cast(func.timezone("UTC", done), Date()) - due
    return func.julianday(func.date(done)) - func.julianday(due)


# --- handoff lead times -------------------------------------------------------------------

STAGES = (
    "captured_to_handed_off",
    "handed_off_to_accepted",
    "accepted_to_completed",
    "completed_to_client_accepted",
    "captured_to_client_accepted",
)


async def lead_times(conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
    """Per handoff, the time of each step; a step counts in the period its end falls in.
    p50 and p90 per department and per client segment. PostgreSQL finds each step's samples
    by its end (indexed) and takes the percentiles itself; SQLite's databases are small,
    and the rows are folded here."""
    if conn.dialect.name == "postgresql":
        return Rows.made(await _lead_times_in_postgresql(conn, facts, f))
    return Rows.made(await _lead_times_folded(conn, facts, f))


async def _lead_times_in_postgresql(conn: AsyncConnection, facts: Facts, f: Filters) -> list[dict]:
    h, wo, d = (facts.t(n) for n in ("report_handoffs", "report_work_orders", "report_deliveries"))
    start, end = _utc(f.period.start), _utc(f.period.end)
    segment = func.coalesce(h.c.segment, literal_column("'unknown'")).label("segment")

    def days(later, earlier):  # noqa: ANN001, ANN202 - SQL expressions
        return func.date_part("epoch", later - earlier) / 86400.0

    def step(stage: str, ended, began, source, with_work: bool = True):  # noqa: ANN001, ANN202
        if f.account_manager and not with_work:
            source = source.outerjoin(wo, wo.c.work_order_id == h.c.handoff_id)
        statement = (
            select(
                literal_column(f"'{stage}'").label("stage"), h.c.department, segment, days(ended, began).label("days")
            )
            .select_from(source)
            .where(ended >= start, ended < end, began.is_not(None))
        )
        if f.department:
            statement = statement.where(h.c.department == f.department)
        if f.account_manager:
            statement = statement.where(wo.c.account_manager == f.account_manager)
        return statement

    # Each step's samples found by its end (indexed); a handoff row carries its request's
    # capture and its client's segment, so a step joins at most its work order.
    by_work = wo.join(h, h.c.handoff_id == wo.c.work_order_id)
    by_delivery = d.join(h, h.c.request_id == d.c.request_id)
    samples = union_all(
        step("captured_to_handed_off", h.c.handed_off_at, h.c.captured_at, h, with_work=False),
        step("handed_off_to_accepted", wo.c.accepted_at, h.c.handed_off_at, by_work),
        step("accepted_to_completed", wo.c.first_completed_at, wo.c.accepted_at, by_work),
        step(
            "completed_to_client_accepted",
            d.c.accepted_at,
            wo.c.completed_at,
            by_delivery.outerjoin(wo, wo.c.work_order_id == h.c.handoff_id),
        ),
        step("captured_to_client_accepted", d.c.accepted_at, h.c.captured_at, by_delivery, with_work=False),
    ).subquery()
    ordered = samples.c.days
    statement = select(
        samples.c.stage,
        samples.c.department,
        samples.c.segment,
        func.grouping(samples.c.department),
        func.count(),
        func.percentile_disc(0.5).within_group(ordered),
        func.percentile_disc(0.9).within_group(ordered),
    ).group_by(
        func.grouping_sets(tuple_(samples.c.stage, samples.c.department), tuple_(samples.c.stage, samples.c.segment))
    )
    found = {}
    for stage, department, seg, by_segment, n, p50, p90 in (await conn.execute(statement)).all():
        group_by, group = ("segment", seg) if by_segment else ("department", department)
        found[(group_by, group, stage)] = (n, p50, p90)
    return _lead_rows(found)


def _lead_rows(found: dict[tuple[str, str, str], tuple[int, float | None, float | None]]) -> list[dict]:
    """Rows by department, then by segment, each group's steps in order."""
    out = []
    for group_by in ("department", "segment"):
        for group in sorted({g for b, g, _ in found if b == group_by}):
            for stage in STAGES:
                if (group_by, group, stage) in found:
                    n, p50, p90 = found[(group_by, group, stage)]
                    out.append(
                        {
                            "group_by": group_by,
                            "group": group,
                            "stage": stage,
                            "count": n,
                            "p50_days": _round(p50),
                            "p90_days": _round(p90),
                        }
                    )
    return out


async def _lead_times_folded(conn: AsyncConnection, facts: Facts, f: Filters) -> list[dict]:
    h, wo, d = (facts.t(n) for n in ("report_handoffs", "report_work_orders", "report_deliveries"))
    statement = select(
        h.c.department,
        h.c.handed_off_at,
        h.c.captured_at,
        wo.c.accepted_at,
        wo.c.first_completed_at,
        wo.c.completed_at,
        wo.c.account_manager,
        d.c.accepted_at.label("client_accepted_at"),
        h.c.segment,
    ).select_from(h.outerjoin(wo, wo.c.work_order_id == h.c.handoff_id).outerjoin(d, d.c.request_id == h.c.request_id))
    start, end = _utc(f.period.start), _utc(f.period.end)
    # Some step ends in the period: the handoffs found by each end's index, not a scan of
    # every handoff (an OR across the joined tables is one).
    ended = union(
        select(h.c.handoff_id).where(h.c.handed_off_at >= start, h.c.handed_off_at < end),
        select(wo.c.work_order_id).where(wo.c.accepted_at >= start, wo.c.accepted_at < end),
        select(wo.c.work_order_id).where(wo.c.first_completed_at >= start, wo.c.first_completed_at < end),
        select(h.c.handoff_id)
        .select_from(d.join(h, h.c.request_id == d.c.request_id))
        .where(d.c.accepted_at >= start, d.c.accepted_at < end),
    )
    statement = statement.where(h.c.handoff_id.in_(ended))
    if f.department:
        statement = statement.where(h.c.department == f.department)
    if f.account_manager:
        statement = statement.where(wo.c.account_manager == f.account_manager)
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in await _rows(conn, statement):
        steps = {
            "captured_to_handed_off": (row["handed_off_at"], row["captured_at"]),
            "handed_off_to_accepted": (row["accepted_at"], row["handed_off_at"]),
            "accepted_to_completed": (row["first_completed_at"], row["accepted_at"]),
            "completed_to_client_accepted": (row["client_accepted_at"], row["completed_at"]),
            "captured_to_client_accepted": (row["client_accepted_at"], row["captured_at"]),
        }
        for stage, (end, start) in steps.items():
            days = _days(end, start)
            if days is None or not f.period.holds(stored_utc(end)):
                continue
            samples[("department", row["department"], stage)].append(days)
            samples[("segment", row["segment"] or "unknown", stage)].append(days)
    return _lead_rows({k: (len(v), nearest_rank(v, 0.5), nearest_rank(v, 0.9)) for k, v in samples.items() if v})


# --- account managers' portfolios -------------------------------------------------------


async def portfolios(conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
    """Per account manager: clients and key accounts held now, reviews overdue and recoveries and
    complaints open now (to the client's manager now); in the
    period, contacts made and refused (by reason), offers made / won / declined and outcome
    reviews, counted to whoever held the client then (kept after they move on)."""
    c, rel, fu, act, cases = (
        facts.t(n)
        for n in ("report_clients", "report_relationships", "report_follow_ups", "report_activity", "report_cases")
    )
    # Counted by the database (GROUP BY): a portfolio of 100k clients is a few rows here.
    held: dict[str, dict[str, Any]] = {}
    holders = (
        select(c.c.account_manager, func.count(), func.count(rel.c.tier).filter(rel.c.tier == "key"))
        .select_from(c.outerjoin(rel, rel.c.client_id == c.c.client_id))
        .group_by(c.c.account_manager)
    )
    for manager, clients, key in (await conn.execute(holders)).all():
        held[manager] = {"clients": clients, "key": key}
    overdue: dict[str, tuple[int, date]] = {}
    reviews = (
        select(c.c.account_manager, func.count(), func.min(fu.c.due_on))
        .select_from(fu.join(c, c.c.client_id == fu.c.client_id))
        .where(fu.c.kind == "review", fu.c.status == "open", fu.c.due_on < f.today)
        .group_by(c.c.account_manager)
    )
    for manager, count, oldest in (await conn.execute(reviews)).all():
        overdue[manager] = (count, oldest if isinstance(oldest, date) else date.fromisoformat(str(oldest)))
    open_cases: dict[str, Counter] = defaultdict(Counter)
    still_open = (
        select(c.c.account_manager, cases.c.kind, func.count())
        .select_from(cases.join(c, c.c.client_id == cases.c.client_id))
        .where(cases.c.closed_at.is_(None))
        .group_by(c.c.account_manager, cases.c.kind)
    )
    for manager, kind, count in (await conn.execute(still_open)).all():
        open_cases[manager][kind] = count
    done: dict[str, Counter] = defaultdict(Counter)
    in_period = and_(act.c.occurred_at >= _utc(f.period.start), act.c.occurred_at < _utc(f.period.end))
    activity = (
        select(act.c.account_manager, act.c.kind, act.c.code, func.count())
        .where(in_period)
        .group_by(act.c.account_manager, act.c.kind, act.c.code)
    )
    for manager, kind, code, count in (await conn.execute(activity)).all():
        done[manager][kind] += count
        if kind in ("refused", "outcome"):
            done[manager][f"{kind}:{code}"] += count
    managers = sorted(set(held) | set(done))
    if f.account_manager:
        managers = [m for m in managers if m == f.account_manager]
    out = []
    for manager in managers:
        n, (late, oldest) = done[manager], overdue.get(manager, (0, None))
        out.append(
            {
                "account_manager": manager,
                "clients": held[manager]["clients"] if manager in held else 0,
                "key_accounts": held[manager]["key"] if manager in held else 0,
                "reviews_overdue": late,
                "oldest_overdue_review_days": (f.today - oldest).days if oldest else None,
                "recoveries_open": open_cases[manager]["recovery"],
                "complaints_open": open_cases[manager]["complaint"],
                "contacts_made": n["contact"],
                "contacts_refused": n["refused"],
                **{f"refused_{code}": n[f"refused:{code}"] for code in REFUSAL_CODES},
                "offers_made": n["offered"],
                "offers_won": n["won"],
                "offers_declined": n["declined"],
                "outcome_reviews": n["outcome"],
                **{f"outcome_{value}": n[f"outcome:{value}"] for value in DELIVERED_VALUES},
            }
        )
    return Rows.made(out)


# --- rotation -----------------------------------------------------------------------------


async def rotation(conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
    """Each account-manager change in the 12 months up to the period's end, with how many the
    client had in those months, whether that is more than the warning threshold, and whether
    the new manager has acknowledged the handover brief (read or confirmed): the first
    acknowledgement by them, at or after the change, before the period's end."""
    ch, c, act = (facts.t(n) for n in ("report_manager_changes", "report_clients", "report_activity"))
    end = _utc(f.period.end)
    changes = select(ch).where(ch.c.changed_at >= _utc(f.period.end - timedelta(days=365)), ch.c.changed_at < end)
    if f.account_manager:
        held = select(c.c.client_id).where(c.c.account_manager == f.account_manager)
        changes = changes.where(ch.c.client_id.in_(held))
    changes = changes.cte("changes")
    counts = select(changes.c.client_id, func.count().label("changes")).group_by(changes.c.client_id).subquery("counts")
    # The first acknowledgement of each change, found by one join rather than one lookup per change.
    first = (
        select(changes.c.seq.label("change_seq"), func.min(act.c.seq).label("ack_seq"))
        .select_from(
            changes.join(
                act,
                and_(
                    act.c.kind == "acknowledged",
                    act.c.client_id == changes.c.client_id,
                    act.c.account_manager == changes.c.account_manager,
                    act.c.occurred_at >= changes.c.changed_at,
                    act.c.occurred_at < end,
                ),
            )
        )
        .group_by(changes.c.seq)
        .subquery("first_ack")
    )
    ack = act.alias("ack")
    statement = (
        select(
            changes.c.client_id,
            changes.c.changed_at,
            changes.c.account_manager,
            changes.c.previous_account_manager,
            c.c.name,
            counts.c.changes,
            ack.c.occurred_at,
            ack.c.code,
        )
        .select_from(
            changes.join(counts, counts.c.client_id == changes.c.client_id)
            .outerjoin(first, first.c.change_seq == changes.c.seq)
            .outerjoin(ack, ack.c.seq == first.c.ack_seq)
            .outerjoin(c, c.c.client_id == changes.c.client_id)
        )
        .order_by(changes.c.client_id, changes.c.seq)
    )
    warn = f.rotation_warning_changes

    def shape(row) -> dict:  # noqa: ANN001 - a result row
        client_id, changed_at, manager, previous, name, n, acked_at, how = row
        return {
            "client_id": client_id,
            "client_name": name,
            "changed_at": stored_utc(changed_at).isoformat(),
            "account_manager": manager,
            "previous_account_manager": previous,
            "changes_in_12_months": n,
            "rotated_too_often": n > warn,
            "brief_acknowledged": acked_at is not None,
            "brief_acknowledged_at": None if acked_at is None else stored_utc(acked_at).isoformat(),
            "brief_acknowledged_how": how,
        }

    raw = (await conn.execute(statement)).all()
    flagged = sorted({row[0] for row in raw if row[5] > warn})
    return Rows(raw, shape, {"rotated_too_often": flagged})


# --- revenue ------------------------------------------------------------------------------


async def revenue(conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
    """Per month, account manager and client: the budgets of deliveries the client accepted,
    opportunities won (and the budget of the request each became, where it has one), and
    program fees due (a program's monthly fee for each month it runs in). Summed by the
    database in whole cents (amounts have at most two decimals), so exactly."""
    d, r, act, p, c = (
        facts.t(n)
        for n in ("report_deliveries", "report_requests", "report_activity", "report_programs", "report_clients")
    )
    start, end = _utc(f.period.start), _utc(f.period.end)
    zero = literal_column("0")
    accepted = (
        select(
            _month(conn, d.c.accepted_at).label("month"),
            func.coalesce(d.c.account_manager, "").label("manager"),
            d.c.client_id.label("client_id"),
            r.c.currency.label("currency"),
            literal_column("1").label("accepted"),
            _cents(conn, r.c.budget).label("accepted_cents"),
            zero.label("won"),
            zero.label("won_cents"),
            zero.label("fee_cents"),
        )
        .select_from(d.join(r, r.c.request_id == d.c.request_id))
        .where(d.c.accepted_at >= start, d.c.accepted_at < end)
    )
    won = (
        select(
            _month(conn, act.c.occurred_at),
            act.c.account_manager,
            act.c.client_id,
            func.coalesce(r.c.currency, "EUR"),
            zero,
            zero,
            literal_column("1"),
            _cents(conn, r.c.budget),
            zero,
        )
        .select_from(act.outerjoin(r, r.c.source_opportunity_id == act.c.reference))
        .where(act.c.kind == "won", act.c.occurred_at >= start, act.c.occurred_at < end)
    )
    parts = [accepted, won]
    for month in f.period.months():  # a program's fee is due in each month it runs in
        parts.append(
            select(
                literal_column(f"'{month.isoformat()[:7]}'"),  # a date's own digits
                p.c.account_manager,
                p.c.client_id,
                p.c.currency,
                zero,
                zero,
                zero,
                zero,
                _cents(conn, p.c.monthly_fee),
            ).where(p.c.starts_on < _add_months(month, 1), p.c.ends_on > month)
        )
    cells = union_all(*parts).subquery()
    manager, client_id = cells.c.manager, cells.c.client_id
    sums = select(
        cells.c.month,
        manager,
        client_id,
        cells.c.currency,
        func.sum(cells.c.accepted).cast(BigInteger).label("accepted"),
        func.sum(cells.c.accepted_cents).cast(BigInteger).label("accepted_cents"),
        func.sum(cells.c.won).cast(BigInteger).label("won"),
        func.sum(cells.c.won_cents).cast(BigInteger).label("won_cents"),
        func.sum(cells.c.fee_cents).cast(BigInteger).label("fee_cents"),
    ).group_by(cells.c.month, manager, client_id, cells.c.currency)
    if f.account_manager:
        sums = sums.where(manager == f.account_manager)
    sums = sums.subquery("sums")
    # Names joined once summed: 20k lookups rather than one per delivery, win and fee.
    totals = (
        select(*sums.c, c.c.name)
        .select_from(sums.outerjoin(c, c.c.client_id == sums.c.client_id))
        .order_by(
            *(bytewise(conn, column) for column in (sums.c.month, sums.c.manager, sums.c.client_id, sums.c.currency))
        )
    )
    return Rows((await conn.execute(totals)).all(), _revenue_row)


def _revenue_row(row) -> dict:  # noqa: ANN001 - a result row
    month, who, client, currency, accepted_n, accepted_cents, won_n, won_cents, fee_cents, name = row
    return {
        "month": month,
        "account_manager": who,
        "client_id": client,
        "client_name": name,
        "currency": currency,
        "accepted_deliveries": int(accepted_n),
        "accepted_value": _from_cents(accepted_cents),
        "opportunities_won": int(won_n),
        "won_value": _from_cents(won_cents),
        "program_fees_due": _from_cents(fee_cents),
    }


def _month(conn: AsyncConnection, moment):  # noqa: ANN001, ANN202 - SQL expressions
    """``YYYY-MM`` of a stored UTC timestamp."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", moment), "YYYY-MM")
    return func.strftime("%Y-%m", moment)


def _cents(conn: AsyncConnection, amount):  # noqa: ANN001, ANN202 - SQL expressions
    """A decimal string of at most two decimals as whole cents; no amount is 0."""
    if conn.dialect.name == "postgresql":
        return func.coalesce(func.round(cast(amount, Numeric) * 100), 0).cast(BigInteger)
    return func.coalesce(cast(func.round(cast(amount, REAL) * 100), Integer), 0)


def _from_cents(cents) -> str:  # noqa: ANN001 - int, or Decimal from PostgreSQL's sum
    whole, part = divmod(int(cents), 100)
    return f"{whole}.{part:02d}"


@dataclass(frozen=True)
class Report:
    name: str
    query: Callable[[AsyncConnection, Facts, Filters], Awaitable[Rows]]
    filters: tuple[str, ...]  # which of account_manager / department apply

    async def rows(self, conn: AsyncConnection, facts: Facts, f: Filters) -> Rows:
        if conn.dialect.name == "postgresql":
            # A report's hash tables (20k groups) fit in memory rather than spill to disk;
            # for this transaction only.
            await conn.exec_driver_sql("SET LOCAL work_mem = '32MB'")
        with off_the_loop():  # a scan of every client's facts: seconds on a large log
            return await self.query(conn, facts, f)

    async def compute(self, conn: AsyncConnection, facts: Facts, f: Filters) -> list[dict]:
        """Every row as a dict (the CLI, the tests)."""
        return list(await self.rows(conn, facts, f))


REPORTS: dict[str, Report] = {
    "punctuality": Report("punctuality", punctuality, ("account_manager", "department")),
    "lead-times": Report("lead-times", lead_times, ("account_manager", "department")),
    "portfolios": Report("portfolios", portfolios, ("account_manager",)),
    "rotation": Report("rotation", rotation, ("account_manager",)),
    "revenue": Report("revenue", revenue, ("account_manager",)),
}


def render_csv(rows: Sequence[dict]) -> str:
    """The rows as CSV with a header (the first row's keys; an empty report is an empty text)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
