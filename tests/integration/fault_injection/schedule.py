"""The faults of one run, drawn from a seed: the same seed gives the same schedule.

A schedule is which faults, in what order, after how much of the load (a fraction
of the commands the load is expected to send) and for how long. Every kind the run
must cover is in it once; one or two more are drawn at random. The seed is
``BATON_FAULT_SEED`` when set (to replay a run), else drawn, and always printed.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedFault:
    kind: str
    at: float  # fraction of the expected commands acknowledged when it starts
    seconds: float  # how long the part stays broken (down, unreachable, stalled)
    target: int = 0  # which NATS node (cluster) or which replica


DESCRIPTIONS = {
    "nats_kill": "nats-server{node} SIGKILL, restarted after {seconds} s",
    "nats_stall": "nats-server{node} SIGSTOP for {seconds} s, then SIGCONT",
    "postgres_cut": "PostgreSQL unreachable for {seconds} s (proxy resets)",
    "postgres_crash": "PostgreSQL crash (pg_ctl stop -m immediate), restarted after {seconds} s",
    "kill_intake": "intake SIGKILL mid-batch, restarted",
    "kill_delivery": "delivery{replica} SIGKILL mid-batch, restarted",
    "kill_followup": "follow-up SIGKILL mid-batch, restarted",
}

SECONDS = {  # (shortest, longest) a fault of each kind lasts
    "nats_kill": (1.0, 3.0),
    "nats_stall": (2.0, 6.0),
    "postgres_cut": (3.0, 8.0),
    "postgres_crash": (1.0, 4.0),
    "kill_intake": (1.0, 1.0),
    "kill_delivery": (1.0, 1.0),
    "kill_followup": (1.0, 1.0),
}

# What a run on one NATS server covers, every time.
SINGLE_NODE = ("nats_kill", "nats_stall", "postgres_cut", "postgres_crash", "kill_delivery", "kill_followup")
# On the three-node cluster: one node killed, one delivery replica killed, and a node stalled.
CLUSTER = ("nats_kill", "kill_delivery", "nats_stall")


def fault_seed() -> int:
    value = os.environ.get("BATON_FAULT_SEED", "").strip()
    return int(value) if value else secrets.randbelow(10**6)


def draw(
    seed: int, required: tuple[str, ...], *, extra: int = 1, nodes: int = 1, replicas: int = 1
) -> list[PlannedFault]:
    """The run's faults, in the order they happen, spread over 10-85 % of the load."""
    rng = random.Random(seed)
    kinds = list(required) + [rng.choice(required) for _ in range(extra)]
    rng.shuffle(kinds)
    # Evenly spread slots, each nudged a little, so faults never pile onto one another.
    step = 0.75 / len(kinds)
    plan = []
    for n, kind in enumerate(kinds):
        at = 0.10 + step * n + rng.uniform(0, step * 0.5)
        low, high = SECONDS[kind]
        target = (
            rng.randrange(nodes)
            if kind.startswith("nats")
            else rng.randrange(replicas)
            if kind == "kill_delivery"
            else 0
        )
        plan.append(PlannedFault(kind, round(at, 3), round(rng.uniform(low, high), 1), target))
    return plan


def describe(fault: PlannedFault, *, nodes: int = 1, replicas: int = 1) -> str:
    return DESCRIPTIONS[fault.kind].format(
        seconds=fault.seconds,
        node=f" node {fault.target + 1}" if nodes > 1 else "",
        replica=f" replica {fault.target + 1}" if replicas > 1 else "",
    )
