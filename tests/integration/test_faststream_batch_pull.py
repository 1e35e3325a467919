"""Why live projections and reactions do not consume through FastStream's batch pull subscriber.

With the versions installed here, FastStream's batch pull loop fetches a batch in several
``fetch()`` calls until its timeout and catches ``nats.errors.TimeoutError``; nats-py's
``fetch()`` can raise a plain ``asyncio.TimeoutError`` instead (its deadline spent after the
no-wait probe), which that ``except`` does not catch. The loop dies with the messages it had
already fetched in that round: delivered, unacknowledged, unseen by the handler. They come
back only after ``ack_wait``, out of order, and never if an ack-all (or a checkpoint) has
moved past them. docs/architecture.md, *Which flows use FastStream*, builds on these two tests:
if an upgrade makes them fail, the loss is gone and the table can be revisited.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from nats.errors import TimeoutError as NatsTimeoutError

pytestmark = [pytest.mark.nats]


async def test_nats_py_fetch_can_time_out_with_a_plain_asyncio_timeout(nats, unique):
    js = nats.jetstream()
    stream = f"FETCH{unique[:8].upper()}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    try:
        sub = await js.pull_subscribe(f"{stream.lower()}.>", durable="probe", stream=stream)
        kinds = set()
        for _ in range(200):  # an empty stream, a deadline spent during the no-wait probe
            try:
                await sub.fetch(batch=10, timeout=0.0005)
            except asyncio.TimeoutError as exc:
                kinds.add(type(exc))
            if asyncio.TimeoutError in kinds:
                break
        await sub.unsubscribe()
        assert asyncio.TimeoutError in kinds, kinds
        assert not issubclass(asyncio.TimeoutError, NatsTimeoutError)  # what FastStream catches
    finally:
        await js.delete_stream(stream)


async def test_faststream_batch_pull_leaves_fetched_messages_unhandled(nats_url, unique):
    """Bursts timed around the fetch timeout; ack_wait is long, so a message the handler has not
    seen within seconds was fetched and dropped, not merely slow."""
    rnd = random.Random(7)
    seen: list[int] = []
    name = f"RACE{unique[:8].upper()}"
    broker = NatsBroker(nats_url)

    @broker.subscriber(f"{name.lower()}.>", stream=JStream(name=name, subjects=[f"{name.lower()}.>"]),
                       durable="race", config=ConsumerConfig(ack_wait=300),
                       pull_sub=PullSub(batch_size=500, timeout=0.02, batch=True), ack_policy=AckPolicy.ACK)
    async def handle(bodies: list[int]) -> None:
        seen.extend(bodies)

    await broker.start()
    try:
        sent = 0
        unhandled = 0
        for _ in range(6):  # bounded: a few rounds until the loss shows
            for _ in range(135):
                await broker.publish(sent, f"{name.lower()}.x", stream=name)
                sent += 1
                if rnd.random() < 0.5:
                    await asyncio.sleep(0.02 * rnd.uniform(0.8, 1.2))
            deadline = time.monotonic() + 5
            while len(set(seen)) < sent and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            unhandled = sent - len(set(seen))
            if unhandled:
                break
        assert unhandled > 0, (
            f"no message left unhandled in {sent}: FastStream's batch pull loss no longer reproduces "
            "with these versions; revisit docs/architecture.md, *Which flows use FastStream*"
        )
    finally:
        await broker.stop()
