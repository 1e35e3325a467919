"""Putting parked events back through the code that gave up on them.

- A projection's event: applied with the projection's own ``apply`` in one
  transaction that also forgets the parking record; its checkpoint, which moved
  past the event when it was parked, stays where it is
  (``baton_shared.projections.retry``).
- A reaction's cause: handled again by the reaction runner's ``handle``, the code
  the live consumer runs. Reactions derive the ids of what they append from the
  cause and check the target's history first, so handling a cause twice appends
  nothing twice. The record is forgotten once it was handled.

A retry that fails again keeps the event parked, with the new error and one more
try.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NATS

from baton_shared.contracts import registry, stream_for
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections.checkpoints import retry_failed, unpark
from baton_shared.projections.retry import NotPassedYet, retry_parked_event
from baton_shared.projections.sql import make_engine
from baton_shared.reactions import ReactionRunner

from baton_ops.catalogue import find_owner, wired_reactions
from baton_ops.event_log import stream_info


async def retry_one(nc: NATS, row: dict[str, Any]) -> dict[str, Any]:
    """Retry one parked event (a row of the parked table); the outcome, never raises for the event's sake."""
    owner = find_owner(row["projection"])
    ref = f"{row['projection']}#{row['seq']}"
    where = {"stream": row["stream"], "seq": row["seq"], "subject": row["subject"], "data": row["data"]}
    engine = make_engine(owner.service.database_url)
    try:
        if owner.projection is not None:
            try:
                checkpoint = await retry_parked_event(engine, owner.projection, owner.key, registry, **where)
            except NotPassedYet as exc:
                return {"ref": ref, "outcome": "not_passed_yet", "ok": False, "error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - reported, and recorded on the parked event
                return {"ref": ref, "outcome": "failed", "ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
            later = await _later_on_aggregate(nc, row["stream"], row["subject"], row["seq"], checkpoint)
            return {"ref": ref, "outcome": "applied", "ok": True, "later_events_of_aggregate": later}
        async with wired_reactions(owner.service) as (reactions, service_engine):
            store = JetStreamEventStore(nc, stream_for(owner.service.name), registry)
            runner = ReactionRunner(
                reactions[owner.reaction], store, registry, service_engine, service=owner.service.name
            )
            try:
                cause = registry.decode(row["stream"], row["seq"], row["subject"], row["data"])
                outcome = await runner.handle(cause)
            except Exception as exc:  # noqa: BLE001 - reported, and recorded on the parked event
                error = f"{type(exc).__name__}: {exc}"[:500]
                async with engine.begin() as conn:
                    await retry_failed(conn, owner.key, row["stream"], row["seq"], error)
                return {"ref": ref, "outcome": "failed", "ok": False, "error": error}
        async with engine.begin() as conn:
            await unpark(conn, owner.key, row["stream"], row["seq"])
        return {"ref": ref, "outcome": outcome, "ok": True}
    finally:
        await engine.dispose()


async def _later_on_aggregate(nc: NATS, stream: str, subject: str, seq: int, checkpoint: int) -> int:
    """How many events of the same aggregate the projection applied before this retry."""
    tokens = subject.split(".")
    if len(tokens) != 4 or checkpoint <= seq or await stream_info(nc, stream) is None:
        return 0
    count = 0
    async for batch in read_stream(
        nc, stream, start_seq=seq + 1, end_seq=checkpoint, filter_subject=".".join(tokens[:3]) + ".*"
    ):
        count += len(batch)
    return count
