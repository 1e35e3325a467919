"""A report computed once, paged through; computed again when old, asked fresh, or evicted."""

from __future__ import annotations

import asyncio

import pytest

from baton_followup.reports.snapshots import ReportSnapshots


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting(rows: int = 450):
    calls = []

    async def compute() -> list[dict]:
        calls.append(1)
        await asyncio.sleep(0.01)
        return [{"n": n, "computation": len(calls)} for n in range(rows)]

    return compute, calls


def positions() -> dict[str, int]:
    return {"intake": 7, "delivery": 3, "followup": 9}


async def test_pages_come_from_one_computation_until_it_is_old():
    clock = Clock()
    snapshots = ReportSnapshots(max_age=60, clock=clock)
    compute, calls = counting()
    first = await snapshots.get("k", compute, positions)
    second = await snapshots.get("k", compute, positions)
    assert len(calls) == 1 and second is first and first.positions == positions()
    assert [r["n"] for r in first.page(200, 400)] == list(range(400, 450))
    clock.now = 61
    assert (await snapshots.get("k", compute, positions)).rows[0]["computation"] == 2
    assert (await snapshots.get("k", compute, positions, fresh=True)).rows[0]["computation"] == 3


async def test_requests_during_a_computation_wait_for_it_and_share_its_failure():
    snapshots = ReportSnapshots(max_age=60)
    compute, calls = counting()
    together = await asyncio.gather(*(snapshots.get("k", compute, positions) for _ in range(5)))
    assert len(calls) == 1 and all(s is together[0] for s in together)

    async def broken() -> list[dict]:
        await asyncio.sleep(0.01)
        raise ConnectionError("database away")

    outcomes = await asyncio.gather(*(snapshots.get("b", broken, positions) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    with pytest.raises(ConnectionError):  # nothing kept: the next request tries again
        await snapshots.get("b", broken, positions)


async def test_only_the_most_recent_are_kept_and_zero_seconds_keeps_none():
    snapshots = ReportSnapshots(max_age=60, kept=2)
    compute, calls = counting(1)
    for key in ("a", "b", "c", "a"):
        await snapshots.get(key, compute, positions)
    assert len(calls) == 4  # "a" was evicted by "c"
    never = ReportSnapshots(max_age=0, clock=Clock())
    assert (await never.get("k", compute, positions)) is not None
    never.clock.now = 0.001
    await never.get("k", compute, positions)
    assert len(calls) == 6


async def test_what_is_asked_for_and_this_month_are_kept_warm_in_the_background():
    clock = Clock()
    asked, asked_calls = counting()
    usual, usual_calls = counting()
    snapshots = ReportSnapshots(max_age=60, clock=clock, warm_for=900, usual=lambda: {"usual": (usual, positions)})
    await snapshots.get("asked", asked, positions)
    assert await snapshots.keep_warm() == 1 and len(usual_calls) == 1  # this month's, never asked yet
    clock.now = 20
    assert await snapshots.keep_warm() == 0  # nothing half-aged
    clock.now = 31
    assert await snapshots.keep_warm() == 2 and len(asked_calls) == 2
    clock.now = 89  # a page now finds a computation 58 s old: nothing to wait for
    assert (await snapshots.get("asked", asked, positions)).rows[0]["computation"] == 2
    clock.now = 89 + 901  # asked last 901 s ago: no longer kept warm; this month's still is
    assert await snapshots.keep_warm() == 1 and len(asked_calls) == 2 and len(usual_calls) == 3


def test_the_warmer_takes_at_most_its_share_of_the_time():
    from baton_followup.reports.snapshots import WARMING_SHARE

    snapshots = ReportSnapshots(max_age=60)
    assert snapshots.pause_after(0.05) == 15  # a young log: every max_age / 4
    assert snapshots.pause_after(3.0) == pytest.approx(3.0 * (1 - WARMING_SHARE) / WARMING_SHARE)
    for spent in (0.5, 3.0, 20.0):
        assert spent / (spent + snapshots.pause_after(spent)) <= WARMING_SHARE + 1e-9


async def test_nothing_is_kept_warm_when_nothing_is_kept():
    class Runtime:
        stopping = False

    usual, usual_calls = counting()
    never = ReportSnapshots(max_age=0, usual=lambda: {"usual": (usual, positions)})
    await asyncio.wait_for(never.run_forever(Runtime()), 1)  # returns: no loop computing back to back
    assert usual_calls == []
