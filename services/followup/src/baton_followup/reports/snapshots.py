"""A report's rows computed once and paged through: every page of one report comes from the
same computation (so pages agree with each other), and the computation, a query over a
period's facts that takes up to a second at 100k clients, is not repeated per page.

A snapshot is kept for ``max_age`` seconds; requests for a report being computed wait for
that computation rather than start another. ``fresh`` computes again whatever the age.

Kept warm: ``keep_warm`` (run by the service every ``max_age / 4``) computes again, in the
background and one at a time, each report asked for within ``warm_for`` seconds once its
snapshot is half ``max_age`` old, and the reports ``usual`` names (this month's, unfiltered)
whether asked or not. So a page asks for no computation, except the first of a report with
filters nobody asked for lately.

The warmer spends at most ``WARMING_SHARE`` of the time computing: on a large log, where a
pass takes seconds, it waits longer between passes (and a page may find its snapshot old,
and compute it), rather than let the reports take the service's cores.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from baton_shared.observability.logging import get_logger

log = get_logger("baton.followup.reports")
WARMING_SHARE = 0.05


@dataclass(frozen=True)
class Snapshot:
    rows: Sequence[dict]  # made into dicts as a page reads them (``figures.Rows``)
    computed_at: datetime
    positions: dict[str, int]  # the fact projections' positions as the computation began
    seconds: float  # how long it took

    def page(self, limit: int, offset: int) -> list[dict]:
        return self.rows[offset : offset + limit]


Compute = Callable[[], Awaitable[Sequence[dict]]]
Positions = Callable[[], dict[str, int]]
# The reports to keep warm whether asked or not: key -> (compute, positions).
Usual = Callable[[], dict[Hashable, tuple[Compute, Positions]]]


class ReportSnapshots:
    def __init__(
        self,
        max_age: float,
        kept: int = 64,
        clock: Callable[[], float] = time.monotonic,
        warm_for: float = 900.0,
        usual: Usual | None = None,
    ) -> None:
        self.max_age = max_age
        self.kept = kept
        self.clock = clock
        self.warm_for = warm_for
        self.usual = usual
        self._snapshots: OrderedDict[Hashable, tuple[float, Snapshot]] = OrderedDict()
        self._computing: dict[Hashable, asyncio.Future[Snapshot]] = {}
        self._asked: dict[Hashable, tuple[float, Compute, Positions]] = {}  # key -> when, how

    async def get(
        self,
        key: Hashable,
        compute: Compute,
        positions: Positions,
        fresh: bool = False,
    ) -> Snapshot:
        self._asked[key] = (self.clock(), compute, positions)
        return await self._get(key, compute, positions, fresh)

    async def keep_warm(self) -> int:
        """Compute again what is half-aged and wanted; how many it computed."""
        now = self.clock()
        wanted = {k: (c, p) for k, (at, c, p) in self._asked.items() if now - at <= self.warm_for}
        self._asked = {k: v for k, v in self._asked.items() if k in wanted}
        wanted |= self.usual() if self.usual is not None else {}
        computed = 0
        for key, (compute, positions) in wanted.items():
            kept = self._snapshots.get(key)
            if kept is None or self.clock() - kept[0] >= self.max_age / 2:
                await self._get(key, compute, positions, fresh=True)
                computed += 1
        return computed

    def pause_after(self, spent: float) -> float:
        """Seconds between passes: ``max_age / 4``, or long enough that a pass that took
        ``spent`` seconds is at most ``WARMING_SHARE`` of the time."""
        return max(self.max_age / 4, spent * (1 - WARMING_SHARE) / WARMING_SHARE)

    async def run_forever(self, runtime) -> None:  # noqa: ANN001 - the ServiceRuntime
        if self.max_age <= 0:
            return  # nothing is kept: every request computes
        while not runtime.stopping:
            began = time.monotonic()
            try:
                await self.keep_warm()
            except Exception as exc:  # noqa: BLE001 - logged; a page computes what is missing
                log.warning("keeping the reports warm failed", error=repr(exc)[:300])
            await asyncio.sleep(self.pause_after(time.monotonic() - began))

    async def _get(self, key: Hashable, compute: Compute, positions: Positions, fresh: bool) -> Snapshot:
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
