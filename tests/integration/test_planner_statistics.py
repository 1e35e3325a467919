"""SQLite walks the agenda's entries in order from its indexes, with or without the statistics the
service gives it (kept, and read again by the connections the pool opened before them)."""

import asyncio
import sqlite3
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, insert

from baton_followup.composition import VIEWS
from baton_followup.projections import all_projections
from baton_followup.projections.views import FollowupViews
from baton_shared.projections import planner_statistics
from baton_shared.projections.sql import make_engine

from tests.integration.agenda_rows import seed_agenda

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
CLIENTS, MANAGERS = 3_000, 30


def seeded_rows() -> tuple[list[dict], list[dict]]:
    relationships, follow_ups = [], []
    for n in range(CLIENTS):
        cid = f"c{n:05}"
        relationships.append(
            {
                "client_id": cid,
                "client_name": f"Client {n}",
                "account_manager": f"am{n % MANAGERS}",
                "tier": "standard",
                "contact_policy": {},
                "contact_times": [],
                "cool_downs": {},
                "recent_contacts": [],
                "suppressions": [],
                "satisfaction": [],
                "declined_offers": [],
                "outcome_reviews": [],
                "contact_allowed_from": datetime(1970, 1, 1, tzinfo=timezone.utc),
                "last_contact_at": NOW - timedelta(days=n % 90 + 1),
                "updated_at": NOW,
                "version": 1,
            }
        )
        for k, status in enumerate(("done", "done", "open")):
            follow_ups.append(
                {
                    "follow_up_id": f"{cid}-f{k}",
                    "client_id": cid,
                    "kind": "review",
                    "due_on": TODAY + timedelta(days=n % 60 - 30),
                    "status": status,
                    "reason": "because",
                    "scheduled_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                }
            )
    return relationships, follow_ups


async def walk_plans(engine, views, manager: str | None = None) -> list[tuple[bool, str]]:  # noqa: ANN001
    """How SQLite plans the agenda's statements on its entries, on a connection from the pool."""
    seen = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if "FROM agenda_entries" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await views.agenda(manager, TODAY, NOW, 50, 0, held=True)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert seen
    plans = []
    async with engine.connect() as conn:
        for statement, parameters in seen:
            rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
            plans.append(("ORDER BY" in statement, " | ".join(row[3] for row in rows)))
    return plans


def analyzed(path: str) -> bool:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()[0] > 0


async def seeded(engine) -> FollowupViews:  # noqa: ANN001
    projections = {p.name: p for p in all_projections()}
    relationships, follow_ups = seeded_rows()
    async with engine.begin() as conn:
        for p in projections.values():
            await conn.run_sync(p.metadata.create_all)
        await conn.execute(insert(projections["relationships"].table), relationships)
        await conn.execute(insert(projections["follow_ups"].table), follow_ups)
        await seed_agenda(conn, projections["agenda"], relationships, follow_ups)
    return FollowupViews(
        engine, *(projections[n] for n in VIEWS), groups=projections["contact_groups"], agenda=projections["agenda"]
    )


# How a statement may read the agenda's entries: a walk of the order from the due day (for everyone or
# one manager), or the entries time moves found by their moment alone.
BOUNDED_READS = (
    "(standing=? AND rank=? AND due_on<?)",
    "(account_manager=? AND standing=? AND rank=? AND due_on<?)",
    "ix_agenda_entries_release (allowed_from>? AND allowed_from<?)",
    "ix_agenda_entries_last_contact (last_contact_at>? AND last_contact_at<?)",
)


def walks_in_order(statement: tuple[bool, str], index: str) -> bool:
    """A walk in the agenda's order reads its index in order, and no statement reads more entries
    than it needs (every open one, say, as ``standing=?`` alone would)."""
    ordered, plan = statement
    reads = [step for step in plan.split(" | ") if "agenda_entries" in step]
    if not all(any(bounded in step for bounded in BOUNDED_READS) for step in reads):
        return False
    return not ordered or (
        plan.startswith(f"SEARCH agenda_entries USING COVERING INDEX {index}") and "TEMP B-TREE" not in plan
    )


async def test_one_managers_agenda_walks_their_entries_in_order_without_statistics(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}")
    try:
        views = await seeded(engine)
        plans = await walk_plans(engine, views, "am7")
        assert all(walks_in_order(p, "ix_agenda_entries_manager") for p in plans), plans
        items, total = await views.agenda("am7", TODAY, NOW, 50, 0)
        assert total == sum(1 for n in range(CLIENTS) if n % MANAGERS == 7 and n % 60 <= 30)
        assert {i["account_manager"] for i in items} == {"am7"}
    finally:
        await engine.dispose()


async def test_the_agenda_walks_its_entries_in_order_before_and_after_statistics(tmp_path, monkeypatch):
    path = str(tmp_path / "followup.sqlite3")
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    stopping = False
    try:
        views = await seeded(engine)
        before = await walk_plans(engine, views)  # on a connection that stays in the pool
        assert all(walks_in_order(p, "ix_agenda_entries_order") for p in before), before

        monkeypatch.setattr(planner_statistics, "LOOK_EVERY_SECONDS", 0.05)
        keeper = asyncio.create_task(planner_statistics.keep_planner_statistics(engine, lambda: stopping))
        deadline = time.monotonic() + 10
        while not analyzed(path):
            assert time.monotonic() < deadline, "no ANALYZE within 10 s"
            await asyncio.sleep(0.05)
        stopping = True
        await asyncio.wait_for(keeper, 5)

        after = await walk_plans(engine, views)
        assert all(walks_in_order(p, "ix_agenda_entries_order") for p in after), after
        items, total = await views.agenda(None, TODAY, NOW, 50, 0)
        assert total == sum(1 for n in range(CLIENTS) if n % 60 <= 30)
        assert len(items) == 50
    finally:
        stopping = True
        await engine.dispose()


async def test_a_database_is_analyzed_again_only_once_it_has_grown(tmp_path):
    path = str(tmp_path / "grows.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        db.execute("CREATE INDEX ix_t_v ON t (v)")
        db.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{n % 7}",) for n in range(2_000)])
    pages = planner_statistics.analyze(path)
    assert pages is not None
    assert planner_statistics.analyze(path, pages) is None  # not grown: left alone
    assert planner_statistics.analyze(path, pages, force=True) is not None
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO t (v) VALUES (?)", [(f"w{n}" * 20,) for n in range(5_000)])
    assert planner_statistics.analyze(path, pages) > pages * planner_statistics.GROWTH
