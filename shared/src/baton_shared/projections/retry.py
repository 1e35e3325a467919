"""Retrying an event a projection parked, through the projection's own code.

When the event was parked the checkpoint moved past it, so the runner will never
see it again. A retry applies that one event with the projection's ``apply`` (the
same fold the runner uses), removes the parking record and leaves the checkpoint
where it is, all in one transaction, under the lock a rebuild's swap takes (see
``lock_projection``) so the live runner never folds rows read before the retry
changed them. If the event still fails, nothing changes but the record's error
and number of tries.

Order: the event is applied after whatever the projection applied since. For
insert-only projections (the timeline) and for folds an event's position does not
matter to, that is the same result; where it does (a note folded after a later
rename, say), rebuild the client's rows afterwards (``baton projections rebuild
<svc>.<proj> --client ID``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.events.registry import EventRegistry
from baton_shared.projections.base import Projection
from baton_shared.projections.checkpoints import read_checkpoint, retry_failed, unpark
from baton_shared.projections.rebuild import lock_projection


class NotPassedYet(Exception):
    """The projection has not reached the parked event: it will apply it in order itself."""


async def retry_parked_event(
    engine: AsyncEngine,
    projection: Projection,
    key: str,
    registry: EventRegistry,
    *,
    stream: str,
    seq: int,
    subject: str,
    data: bytes,
) -> int:
    """Apply the parked event and forget it; returns the (unchanged) checkpoint.

    Raises whatever decoding or applying raised, after recording the failure."""
    try:
        recorded = registry.decode(stream, seq, subject, data)
        async with engine.begin() as conn:
            await lock_projection(conn, projection, key, stream)
            checkpoint = await read_checkpoint(conn, key)
            if seq > checkpoint:
                raise NotPassedYet(f"{key} is at #{checkpoint}, before the parked #{seq}")
            await conn.run_sync(projection.apply, [recorded])
            await unpark(conn, key, stream, seq)
        return checkpoint
    except NotPassedYet:
        raise
    except Exception as exc:
        async with engine.begin() as conn:
            await retry_failed(conn, key, stream, seq, f"{type(exc).__name__}: {exc}")
        raise
