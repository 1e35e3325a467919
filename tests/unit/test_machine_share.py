"""A rebuild takes the cores that are idle when it starts, and the lowest CPU priority."""

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
        import os

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
