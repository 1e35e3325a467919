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
        for _ in range(2000):  # an empty stream, a deadline spent during the no-wait probe (now and then)
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


async def test_faststream_batch_pull_leaves_fetched_messages_unhandled(nats_url, unique, monkeypatch):
    """nats-py's ``fetch()`` made to do, every time, what the test above shows it does now and
    then: the call after a partial batch finds its deadline spent and raises a plain
    ``asyncio.TimeoutError``. The
    messages FastStream fetched earlier in that round never reach the handler, though
    ``ack_wait`` is long: they were fetched and dropped, not merely slow."""
    from nats.js.client import JetStreamContext

    original = JetStreamContext.PullSubscription.fetch
    after_a_partial_batch = set()

    async def fetch(self, batch=1, timeout=5, heartbeat=None):  # noqa: ANN001, ANN202
        if id(self) in after_a_partial_batch:  # the round's next call: its deadline is spent
            after_a_partial_batch.discard(id(self))
            raise asyncio.TimeoutError
        messages = await original(self, batch, timeout, heartbeat)
        if 0 < len(messages) < batch:
            after_a_partial_batch.add(id(self))
        return messages

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", fetch)
    seen: list[int] = []
    name = f"RACE{unique[:8].upper()}"
    broker = NatsBroker(nats_url)

    @broker.subscriber(
        f"{name.lower()}.>",
        stream=JStream(name=name, subjects=[f"{name.lower()}.>"]),
        durable="race",
        config=ConsumerConfig(ack_wait=300),
        pull_sub=PullSub(batch_size=500, timeout=0.2, batch=True),
        ack_policy=AckPolicy.ACK,
    )
    async def handle(bodies: list[int]) -> None:
        seen.extend(bodies)

    await broker.start()
    try:
        for n in range(20):
            await broker.publish(n, f"{name.lower()}.x", stream=name)
        deadline = time.monotonic() + 5
        while len(set(seen)) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        import nats as nats_py

        from baton_shared.eventstore.provisioning import js_api

        probe = await nats_py.connect(nats_url)
        info = await js_api(probe, f"CONSUMER.INFO.{name}.race")
        await probe.close()
        assert len(set(seen)) < 20, (
            f"every message was handled ({len(set(seen))}): FastStream's batch pull loop no longer loses "
            "what it fetched; revisit docs/architecture.md, *Which flows use FastStream*"
        )
        assert info["num_ack_pending"] == 20 - len(set(seen)), info  # delivered, never handled
    finally:
        await broker.stop()
