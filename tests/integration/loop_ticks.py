"""Whether the event loop went on while something ran: a loop that stands still does not tick."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Ticks:
    count: int = 0


@asynccontextmanager
async def counting_ticks(every: float = 0.01) -> AsyncIterator[Ticks]:
    """Within it, ``ticks.count`` grows by one each ``every`` seconds the loop has a turn."""
    ticks = Ticks()

    async def ticking() -> None:
        while True:
            await asyncio.sleep(every)
            ticks.count += 1

    ticker = asyncio.create_task(ticking())
    await asyncio.sleep(0)
    try:
        yield ticks
    finally:
        ticker.cancel()


def slow_sql_function() -> Callable[[int], int]:
    """A SQLite function ``slow(ms)``: sleeps, and answers 1 if it ran on this (the loop's) thread."""
    loop_thread = threading.get_ident()

    def slow(ms: int) -> int:
        time.sleep(ms / 1000)
        return int(threading.get_ident() == loop_thread)

    return slow
