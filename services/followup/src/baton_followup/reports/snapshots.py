"""A report's rows computed once and paged through: every page of one report comes from the
same computation (so pages agree with each other), and the computation, a query over a
period's facts that takes up to a second at 100k clients, is not repeated per page.

A snapshot is kept for ``max_age`` seconds; requests for a report being computed wait for
that computation rather than start another. ``fresh`` computes again whatever the age.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Snapshot:
    rows: list[dict]
    computed_at: datetime
    positions: dict[str, int]  # the fact projections' positions as the computation began
    seconds: float  # how long it took

    def page(self, limit: int, offset: int) -> list[dict]:
        return self.rows[offset : offset + limit]


class ReportSnapshots:
    def __init__(self, max_age: float, kept: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.kept = kept
        self.clock = clock
        self._snapshots: OrderedDict[Hashable, tuple[float, Snapshot]] = OrderedDict()
        self._computing: dict[Hashable, asyncio.Future[Snapshot]] = {}

    async def get(
        self,
        key: Hashable,
        compute: Callable[[], Awaitable[list[dict]]],
        positions: Callable[[], dict[str, int]],
        fresh: bool = False,
    ) -> Snapshot:
        kept = self._snapshots.get(key)
        if kept is not None and not fresh and self.clock() - kept[0] <= self.max_age:
            self._snapshots.move_to_end(key)
            return kept[1]
        running = self._computing.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        try:
            began, at, where = self.clock(), datetime.now(timezone.utc), positions()
            snapshot = Snapshot(await compute(), at, where, round(self.clock() - began, 3))
            self._snapshots[key] = (began, snapshot)
            self._snapshots.move_to_end(key)
            while len(self._snapshots) > self.kept:
                self._snapshots.popitem(last=False)
            future.set_result(snapshot)
            return snapshot
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters re-raise it, none need be there
            raise
        finally:
            del self._computing[key]
