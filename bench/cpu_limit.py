"""A process held to a share of one core, as a container with a CPU limit is.

On a host with fewer cores than replicas, replicas without limits share the same cores, so
adding one adds no capacity. Held each to its own share (the kernel's CFS quota, through a
cgroup of its own), each replica is a fixed amount of capacity, as on a host with a core per
replica or under an orchestrator's CPU limits. Needs a writable cgroup ``cpu`` controller:
version 1 (``/sys/fs/cgroup/cpu``) or version 2 (``/sys/fs/cgroup`` with ``cpu.max``).
"""

from __future__ import annotations

import os
from pathlib import Path

PERIOD_US = 100_000
V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")


class CpuLimit:
    """A cgroup holding its processes to ``cores`` of CPU (0.25: a quarter of one core)."""

    def __init__(self, name: str, cores: float) -> None:
        if not 0 < cores <= os.cpu_count():
            raise ValueError(f"a CPU limit of {cores} cores")
        quota = int(cores * PERIOD_US)
        if (V1 / "cpu.cfs_quota_us").exists():
            self.path = V1 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        elif (V2 / "cgroup.controllers").exists():
            if "cpu" not in (V2 / "cgroup.subtree_control").read_text().split():
                (V2 / "cgroup.subtree_control").write_text("+cpu")
            self.path = V2 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            raise OSError("no cgroup cpu controller at /sys/fs/cgroup")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled_s(self) -> float:
        """Time the kernel held the group back for its quota, so far."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "throttled_time":  # v1, nanoseconds
                return int(value) / 1e9
            if key == "throttled_usec":  # v2
                return int(value) / 1e6
        return 0.0

    def remove(self) -> None:
        """Gone once its processes are (a group that still holds one is left)."""
        try:
            self.path.rmdir()
        except OSError:
            pass
