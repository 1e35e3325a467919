"""SQLite's query-planner statistics (``ANALYZE``), kept current beside a service.

Without statistics SQLite guesses that every index equality matches ten rows, and picks
indexes by those guesses: the agenda looked each client up by the table's primary key
instead of the index that carries its columns (three times the time on a 1M-event log).
Sampled statistics misjudge a column with few values (they count at most the sample), so
queries that must not depend on them say how to be planned. PostgreSQL's autovacuum keeps
its own statistics; this is for SQLite databases only.

A sampled ``ANALYZE`` (``analysis_limit`` rows per index, so its cost does not grow with
the log) runs on a connection of its own in a worker thread, whenever the file has grown by
a quarter since the last one, and at least every few hours. It holds SQLite's write lock
while it runs; the projections' writers wait for it as for any other writer. A connection
reads the statistics when it opens (reading them again later takes the write lock), so
after an ``ANALYZE`` the pool replaces each connection at its next checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.observability.logging import get_logger
from baton_shared.projections.sql import sqlite_file

log = get_logger("baton.planner")

ANALYSIS_LIMIT = 20_000  # rows sampled per index
LOOK_EVERY_SECONDS = 30.0
GROWTH = 1.25  # analyze again once the file is this much larger
AT_LEAST_EVERY_SECONDS = 6 * 3600.0
LOCK_WAIT_SECONDS = 10.0


def analyze(path: str, analyzed_pages: int = 0, *, force: bool = False) -> int | None:
    """``ANALYZE`` the database at ``path`` when it has grown by ``GROWTH`` since it had
    ``analyzed_pages`` pages (or ``force``). Returns the pages it analyzed at, or None."""
    with contextlib.closing(sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None)) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        if not force and pages < analyzed_pages * GROWTH:
            return None
        db.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        db.execute("ANALYZE")
        return pages


def _reload_when_analyzed(engine: AsyncEngine) -> Callable[[], None]:
    """Makes the pool replace each connection opened before the latest ``ANALYZE`` at its
    next checkout; returns what to call after one."""
    generation = [0]

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_conn, record) -> None:  # noqa: ANN001
        record.info["planner_statistics"] = generation[0]

    @event.listens_for(engine.sync_engine, "checkout")
    def _read_again(_dbapi_conn, record, _proxy) -> None:  # noqa: ANN001
        if record.info.get("planner_statistics", 0) != generation[0]:
            raise exc.DisconnectionError("planner statistics changed")  # the pool connects again

    def analyzed() -> None:
        generation[0] += 1

    return analyzed


async def keep_planner_statistics(engine: AsyncEngine, stopping: Callable[[], bool]) -> None:
    path = sqlite_file(engine.url)
    if path is None:
        return
    analyzed = _reload_when_analyzed(engine)
    analyzed_pages, analyzed_at = 0, time.monotonic()
    while not stopping():
        due = time.monotonic() - analyzed_at > AT_LEAST_EVERY_SECONDS
        try:
            pages = await asyncio.to_thread(analyze, path, analyzed_pages, force=due)
        except sqlite3.Error as exc:  # locked for longer than the wait, or the file went away: next look
            log.warning("planner statistics not refreshed", database=path, error=repr(exc)[:200])
        else:
            if pages is not None:
                analyzed_pages, analyzed_at = pages, time.monotonic()
                analyzed()
                log.info("planner statistics refreshed", database=path, pages=pages)
        await asyncio.sleep(LOOK_EVERY_SECONDS)
