"""The pull loop's lingering: while events keep coming, deliveries are gathered into one batch."""

import asyncio
import time

import pytest

from baton_shared.contracts import STREAMS
from baton_shared.eventstore.consumer import PullLoop
from baton_shared.eventstore.provisioning import provision_stream, reconcile_durable

pytestmark = pytest.mark.nats
SPEC = STREAMS["intake"]


async def test_a_busy_loop_gathers_deliveries_and_a_quiet_one_hands_over_at_once(nats):
    await provision_stream(nats, SPEC)
    await reconcile_durable(nats, SPEC.name, "linger_test", filter_subjects=[SPEC.all_subjects], start_after=0)
    handed: list[tuple[float, list[int]]] = []
    got = asyncio.Event()

    async def handler(msgs):
        handed.append((time.monotonic(), [int(m.data) for m in msgs]))
        await msgs[-1].ack()
        got.set()

    loop = PullLoop(nats, SPEC.name, "linger_test", handler, linger_s=0.3)
    await loop.start()
    try:
        js = nats.jetstream()
        sent = time.monotonic()
        await js.publish("intake.client.a.ClientNoteAdded", b"1")
        await asyncio.wait_for(got.wait(), 5)
        assert handed[0][1] == [1] and handed[0][0] - sent < 0.25  # after a quiet spell: at once
        for n in range(2, 7):  # a burst right after: the loop is busy, so it gathers
            await js.publish("intake.client.a.ClientNoteAdded", str(n).encode())
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + 5
        while sum(len(b) for _, b in handed) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert [n for _, b in handed for n in b] == [1, 2, 3, 4, 5, 6]  # all of them, in order
        assert len(handed) == 2, handed  # the burst as one batch
    finally:
        await loop.stop()
