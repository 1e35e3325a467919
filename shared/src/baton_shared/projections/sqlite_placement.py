"""Where Baton's SQLite driver (``sqlite_driver``) runs a statement: on the event loop's thread,
or in one thread hop.

Where a statement runs is a setting (``BATON_SQLITE_STATEMENTS``), because the answer
depends on the machine: a hop costs CPU and, when the loop is busy, waits for the GIL;
but SQLite's own work then runs beside the loop, on another core (figures:
docs/architecture.md, "Performance").

- ``loop`` (the default): statements on the event loop's thread; best when every
  service and NATS share the box (the embedded run);
- ``thread``: one hop each; for a box where a SQLite service has cores to itself;
- ``auto``: ``thread`` while the machine has more than half a core idle (``/proc/stat``,
  sampled every half second), ``loop`` otherwise (it flaps near that line).

Three things never block the loop, and always hop:

- **a lock held by another connection.** Connections have no busy timeout: a
  statement that finds the database locked (``SQLITE_BUSY``) fails at once on the loop,
  and is run again in a thread, which waits for the lock as SQLite's busy handler would
  (``PATIENCE_SECONDS``; 1, 2, 5 … 100 ms steps). Waiting on the loop could deadlock:
  the holder may be a transaction of this very process waiting for the loop.
  ``SQLITE_BUSY_SNAPSHOT`` (a read snapshot gone stale) fails as before.
- **big statements**: an ``executemany`` of more than ``sqlite_driver.INLINE_ROWS`` rows (a
  catch-up batch, a rebuild);
- **long reads**: statements run ``off_the_loop()`` (a report over every client's facts,
  seconds on a large log), so the loop answers meanwhile.

Commits and rollbacks follow the same rule; a commit that checkpoints the WAL writes and
syncs the database file meanwhile, briefly (docs/architecture.md).
"""

from __future__ import annotations

import contextvars
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PATIENCE_SECONDS = 30.0  # how long a statement waits for a lock held by another connection
_OFF_THE_LOOP = contextvars.ContextVar("baton_sqlite_off_the_loop", default=False)
_STEPS = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025, 0.025, 0.050, 0.050, 0.100)  # SQLite's own


class SpareCore:
    """Whether the machine has more than half a core idle, from ``/proc/stat``'s aggregate
    line, sampled at most every ``every`` seconds (on the caller's thread: a read of a
    small file). Without ``/proc/stat`` (not Linux): always True, the stock behaviour."""

    def __init__(self, path: str = "/proc/stat", every: float = 0.5) -> None:
        self.path = path
        self.every = every
        self.cores = os.cpu_count() or 1
        self.spare = True
        self._at = 0.0
        self._last: tuple[int, int] | None = None

    def _times(self) -> tuple[int, int] | None:
        try:
            with open(self.path, "rb") as f:
                fields = f.readline().split()[1:]
        except OSError:
            return None
        ticks = [int(x) for x in fields[:8]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._at < self.every:
            return self.spare
        self._at = now
        times = self._times()
        if times is None:
            return True
        if self._last is not None and times[0] > self._last[0]:
            idle_cores = self.cores * (times[1] - self._last[1]) / (times[0] - self._last[0])
            self.spare = idle_cores > 0.5
        self._last = times
        return self.spare


spare_core = SpareCore()
ON_LOOP: bool | None = True  # True: on the loop, False: in a thread, None: by spare_core()
PLACES = {"auto": None, "loop": True, "thread": False}


def run_statements(place: str) -> None:
    """Where this process's SQLite statements run: ``auto`` (the spare-core rule), ``loop``
    or ``thread`` (``BATON_SQLITE_STATEMENTS``)."""
    global ON_LOOP
    if place not in PLACES:
        raise ValueError(f"SQLite statements run in one of {', '.join(PLACES)}, not {place!r}")
    ON_LOOP = PLACES[place]


@contextmanager
def off_the_loop() -> Iterator[None]:
    """Within it, this task's SQLite statements run in a thread, whatever
    ``BATON_SQLITE_STATEMENTS`` says: for reads that take long enough to stall the loop."""
    token = _OFF_THE_LOOP.set(True)
    try:
        yield
    finally:
        _OFF_THE_LOOP.reset(token)


def on_loop(small: bool) -> bool:
    if not small or _OFF_THE_LOOP.get():
        return False
    return ON_LOOP if ON_LOOP is not None else not spare_core()


def is_busy(exc: BaseException) -> bool:
    """The database is locked by another connection (not a stale snapshot: retrying the
    statement cannot help that one, its transaction must start again)."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY"


def patiently(fn: Callable[..., Any], *args: Any) -> Any:
    """In a thread: ``fn(*args)``, waiting for a lock like SQLite's busy handler."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    attempt = 0
    while True:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(min(_STEPS[min(attempt, len(_STEPS) - 1)], max(0.0, deadline - time.monotonic())))
        attempt += 1


async def run_on(conn: Any, inline: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the loop when ``inline``, the database is not locked and nothing of
    this connection's is still in its thread; otherwise in its thread, patiently.
    ``conn``: a ``sqlite_driver.Connection`` (what it has in its thread, and its ``hop``)."""
    if inline and not conn.in_thread:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
    return await conn.hop(patiently, fn, *args)
