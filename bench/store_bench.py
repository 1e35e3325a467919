"""Appends through Baton's event store, and the read ceilings of the stream."""

from __future__ import annotations

import asyncio
import time
import uuid

from nats.js.api import ConsumerConfig, DeliverPolicy

from baton_shared.contracts import registry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.reader import read_stream

from common import SPEC, noted, registered


async def appends(store: JetStreamEventStore, awaited: int, pipelined: int, window: int) -> dict:
    """One writer awaiting each append; then ``window`` appends in flight; then atomic batches of 10."""
    t = time.perf_counter()
    for _ in range(awaited):
        cid = str(uuid.uuid4())
        await store.append("client", cid, 0, [registered(cid)])
    awaited_rate = awaited / (time.perf_counter() - t)

    sem = asyncio.Semaphore(window)

    async def one() -> None:
        async with sem:
            cid = str(uuid.uuid4())
            await store.append("client", cid, 0, [registered(cid)])

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(pipelined)))
    pipelined_rate = pipelined / (time.perf_counter() - t)

    batches = max(1, awaited // 10)
    bsem = asyncio.Semaphore(64)

    async def batch() -> None:
        async with bsem:
            cid = str(uuid.uuid4())
            await store.append("client", cid, 0, [registered(cid), *(noted(cid, n) for n in range(9))])

    t = time.perf_counter()
    await asyncio.gather(*(batch() for _ in range(batches)))
    batch_rate = batches * 10 / (time.perf_counter() - t)
    return {
        "appends_awaited_per_s": awaited_rate,
        "appends_pipelined_per_s": pipelined_rate,
        "appends_atomic_batch10_events_per_s": batch_rate,
        "pipelined_window": window,
    }


async def decode_baton_reader(nc, start: int, end: int, decode: bool = True) -> float:
    """Baton's reader (hand-driven pull, two requests in flight) decoding into pydantic, no database;
    with ``decode=False`` the read alone: the physical limit of this pipeline."""
    t = time.perf_counter()
    n = 0
    async for batch in read_stream(nc, SPEC.name, start_seq=start, end_seq=end, batch_size=5000):
        if decode:
            for raw in batch:
                registry.decode(SPEC.name, raw.seq, raw.subject, raw.data)
        n += len(batch)
    return n / (time.perf_counter() - t)


async def decode_ordered_consumer(nc, start: int, end: int) -> float:
    """nats-py's ordered push consumer, every event decoded into pydantic."""
    js = nc.jetstream()
    done = asyncio.get_running_loop().create_future()
    count = 0

    async def cb(msg) -> None:  # noqa: ANN001
        nonlocal count
        seq = msg.metadata.sequence.stream
        registry.decode(SPEC.name, seq, msg.subject, msg.data)
        count += 1
        if seq >= end and not done.done():
            done.set_result(None)

    t = time.perf_counter()
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
    sub = await js.subscribe(
        SPEC.all_subjects,
        cb=cb,
        ordered_consumer=True,
        config=config,
        stream=SPEC.name,
        pending_msgs_limit=1_000_000,
        pending_bytes_limit=1 << 30,
    )
    try:
        await asyncio.wait_for(done, timeout=3600)
    finally:
        elapsed = time.perf_counter() - t
        await sub.unsubscribe()
    return count / elapsed
