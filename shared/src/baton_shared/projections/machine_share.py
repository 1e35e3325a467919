"""How a rebuild shares the machine with the live services it runs beside: it takes the cores
that are idle when it starts (one process per idle core, at most two), and it runs at the
lowest CPU priority (in front of PostgreSQL, in the idle class), so that a live projection's
next batch gets a core before it does
(why, measured: docs/architecture.md, *A rebuild beside live work*).
"""

from __future__ import annotations

import os
import time

MOST_PARTS = 2  # more were never measured
LOWEST_PRIORITY = 19


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def idle_cores(sample_s: float = 0.5) -> float | None:
    """How many of the machine's cores were idle over ``sample_s`` (``/proc/stat``); None where
    it cannot be told."""

    def ticks() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
        return sum(fields), fields[3] + fields[4]  # every tick; idle and waiting on I/O

    try:
        total0, idle0 = ticks()
        time.sleep(sample_s)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (os.cpu_count() or 1) * (idle1 - idle0) / (total1 - total0)


def parts_for(idle: float | None, cores: int) -> int:
    """One part per core idle (rounded), at least one, at most ``MOST_PARTS`` and the cores;
    ``idle`` unknown: as if every core were."""
    idle = cores if idle is None else idle
    return max(1, min(MOST_PARTS, cores, int(idle + 0.5)))


def default_parts() -> int:
    """The parts a rebuild folds in unless told: as many as the cores idle now allow."""
    cores = usable_cores()
    return 1 if cores < 2 else parts_for(idle_cores(), cores)


def run_in_background(*, beside_a_server: bool = False) -> None:
    """This process (and the parts it starts, which inherit it) at the lowest CPU priority;
    writing to a database server, in Linux's idle class as well (a fifth of that share): it
    then holds no lock the live projections wait for, but for the swap's moment. Not beside
    SQLite, where each of its commits holds the one writer's lock."""
    if hasattr(os, "nice"):
        os.nice(LOWEST_PRIORITY - os.nice(0))
    if beside_a_server and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
