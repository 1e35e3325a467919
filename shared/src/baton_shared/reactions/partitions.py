"""A reaction's causes split by target into partitions, and the partitions shared out among replicas.

With ``reaction_partitions`` P > 1, a reaction has P consumers, one per partition, each a
pinned-client priority group as before: a partition is handled by one replica at a time, in
stream order per target. Every consumer delivers every cause; the partition a cause belongs
to (``partition_of`` its target) handles it, the others acknowledge it at once. The split is
made here and not by the stream's subject mapping because a cause's target is not always in
its subject: follow-up's reactions to delivery's events act on the client, whose id is in the
payload, not the request's subject.

Every replica pulls every partition. Whoever pulls first is pinned, so the first replica to
start would hold them all: replicas balance themselves. Every ``BALANCE_SECONDS`` each counts
the replicas pulling (the most pull requests waiting on one of its partitions' consumers, its
own included) and the partitions it holds; holding more than its share (P / replicas, rounded
up) it hands the extras over (``ReactionRunner.release``) and stays away from them for
``COOL_OFF_SECONDS``, so that a waiting replica is pinned instead. A replica that dies is
replaced per partition as before (the others pull, and are pinned after ``priority_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque

from nats.aio.client import Client as NATS

from baton_shared.eventstore.provisioning import consumer_info
from baton_shared.observability.logging import get_logger
from baton_shared.reactions.runner import ReactionRunner

log = get_logger("baton.reaction.partitions")

BALANCE_SECONDS = 2.0
COOL_OFF_SECONDS = 3 * BALANCE_SECONDS
REPLICA_SAMPLES = 3  # the replica count is the most seen in the last few looks (pulls come and go)


def fair_share(partitions: int, replicas: int) -> int:
    return math.ceil(partitions / max(1, replicas))


class PartitionedReaction:
    """One replica's runners of one reaction, a runner per partition, and their balancing."""

    def __init__(self, runners: list[ReactionRunner]) -> None:
        self.runners = runners
        self.partitions = len(runners)
        self._away_until: dict[int, float] = {}
        self._replicas_seen: deque[int] = deque(maxlen=REPLICA_SAMPLES)

    @property
    def key(self) -> str:
        return self.runners[0].key

    def held(self) -> list[ReactionRunner]:
        return [r for r in self.runners if r.holds_pin]

    async def replicas_pulling(self, nc: NATS) -> int:
        waiting = 1
        for runner in self.runners:
            with contextlib.suppress(Exception):  # the broker away a moment: counted next time
                info = await consumer_info(nc, runner.stream_name, runner.durable)
                waiting = max(waiting, int((info or {}).get("num_waiting", 0)))
        self._replicas_seen.append(waiting)
        return max(self._replicas_seen)

    async def balance(self, nc: NATS) -> list[int]:
        """One look: pull again what has cooled off, hand over what is beyond this replica's
        share. Returns the partitions handed over."""
        now = asyncio.get_running_loop().time()
        for runner in self.runners:
            if not runner.live and self._away_until.get(runner.partition, 0.0) <= now:
                await runner.start_live(nc)
        if self.partitions == 1:
            return []
        held = self.held()
        share = fair_share(self.partitions, await self.replicas_pulling(nc))
        extra = held[share:]
        for runner in extra:
            self._away_until[runner.partition] = now + COOL_OFF_SECONDS
            await runner.release()
        if extra:
            log.info(
                "partitions handed over",
                reaction=self.key,
                released=[r.partition for r in extra],
                share=share,
                held=len(held) - len(extra),
            )
        return [r.partition for r in extra]

    async def balance_forever(self, nc: NATS, stopping) -> None:  # noqa: ANN001 - a callable saying "stop"
        while not stopping():
            await asyncio.sleep(BALANCE_SECONDS)
            try:
                await self.balance(nc)
            except Exception as exc:  # noqa: BLE001 - the next look tries again
                log.warning("balancing partitions failed", reaction=self.key, error=repr(exc)[:300])
