"""A rebuild takes the cores that are idle when it starts, and the lowest CPU priority."""

import os
import subprocess
import sys

import pytest

from baton_shared.projections.machine_share import LOWEST_PRIORITY, idle_cores, parts_for


@pytest.mark.parametrize(
    ("idle", "cores", "parts"),
    [
        (1.98, 2, 2),  # a quiet machine: both
        (0.55, 2, 1),  # live projections at 1,000 events/s took 1.45 cores (measured)
        (1.49, 2, 1),
        (1.5, 2, 2),
        (0.0, 2, 1),  # never none
        (7.9, 8, 2),  # more than two were never measured
        (None, 2, 2),  # cannot tell: as if idle
        (None, 1, 1),
    ],
)
def test_parts_follow_the_idle_cores(idle, cores, parts):
    assert parts_for(idle, cores) == parts


def test_the_idle_cores_are_read_from_the_machine():
    idle = idle_cores(0.05)
    if sys.platform.startswith("linux"):
        assert idle is not None and 0 <= idle <= (os.cpu_count() or 1) + 0.01


def test_a_rebuild_process_and_the_parts_it_starts_run_at_the_lowest_priority():
    code = (
        "import os, subprocess, sys\n"
        "from baton_shared.projections.machine_share import run_in_background\n"
        "run_in_background(); run_in_background()\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.nice(0))'], capture_output=True, text=True)\n"
        "print(os.nice(0), child.stdout.strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(LOWEST_PRIORITY), str(LOWEST_PRIORITY)]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class")
@pytest.mark.parametrize(("beside_a_server", "policy"), [(True, "SCHED_IDLE"), (False, "SCHED_OTHER")])
def test_beside_a_database_server_a_rebuild_and_its_parts_run_in_the_idle_class(beside_a_server, policy):
    code = (
        "import os, subprocess, sys\n"
        "from baton_shared.projections.machine_share import run_in_background\n"
        f"run_in_background(beside_a_server={beside_a_server})\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.sched_getscheduler(0))'],"
        " capture_output=True, text=True)\n"
        "print(os.sched_getscheduler(0), child.stdout.strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(getattr(os, policy))] * 2


@pytest.mark.parametrize(
    ("urls", "beside"),
    [
        (["postgresql+asyncpg://db/intake", "postgresql+asyncpg://db/delivery"], True),
        (["postgresql+asyncpg://db/intake", "sqlite+aiosqlite:///delivery.sqlite3"], False),
        (["sqlite+aiosqlite:///intake.sqlite3", "sqlite+aiosqlite:///delivery.sqlite3"], False),
    ],
)
def test_the_tool_takes_the_idle_class_only_when_every_database_is_a_server(monkeypatch, urls, beside):
    from baton_ops.commands.projections import every_database_a_server
    from baton_shared.contracts import STREAMS

    for i, name in enumerate(STREAMS):
        monkeypatch.setenv(f"BATON_{name.upper()}_DATABASE_URL", urls[min(i, len(urls) - 1)])
    assert every_database_a_server() is beside
