"""A rebuild split by aggregate: each part folds the aggregates whose id hashes into its range.

A projection whose every row is one aggregate's (``splits_by_aggregate``) can be
rebuilt by several processes at once: each decodes and folds only its own
aggregates' events (told apart by the subject, before decoding) and keeps its own
checkpoint, ``<copy's key>#<first bucket>-<end bucket>``. The key says the range, so
an interrupted split rebuild resumes with the very same parts. When every part has
reached the same position, one transaction moves the copy's checkpoint there and
forgets the parts'.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_shared.projections.checkpoints import checkpoints, parked_events, read_checkpoint

PART_MARK = "#"
BUCKETS = 1000
# The part that reads the log (and sends it on) takes this much of an equal share of the
# folding: reading is about a third of a rebuild's CPU (docs/architecture.md).
READER_WEIGHT = 0.3


def bucket(subject: str) -> int:
    """The bucket of the aggregate an event on ``subject`` (``<root>.<type>.<id>.<Event>``) is of."""
    return zlib.crc32(subject.split(".", 3)[2].encode()) % BUCKETS


@dataclass(frozen=True, slots=True)
class Part:
    first: int  # bucket
    end: int  # bucket, excluded

    def __post_init__(self) -> None:
        if not 0 <= self.first < self.end <= BUCKETS:
            raise ValueError(f"buckets {self.first}-{self.end} of {BUCKETS}")

    def holds(self, subject: str) -> bool:
        return self.first <= bucket(subject) < self.end

    def key(self, whole: str) -> str:
        return f"{whole}{PART_MARK}{self.first}-{self.end}"

    @property
    def name(self) -> str:
        return f"buckets {self.first}-{self.end}"

    @classmethod
    def from_key(cls, key: str) -> Part:
        first, end = key.rsplit(PART_MARK, 1)[1].split("-")
        return cls(int(first), int(end))


def parts_of(count: int) -> list[Part]:
    """``count`` parts covering every bucket; the first, the reader's, is the smaller."""
    if count < 2:
        return [Part(0, BUCKETS)]
    reader = round(BUCKETS * READER_WEIGHT / count)
    bounds = [0, *(reader + round((BUCKETS - reader) * i / (count - 1)) for i in range(count))]
    return [Part(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _under(whole: str):  # noqa: ANN202 - a SQLAlchemy condition
    return checkpoints.c.projection.startswith(whole + PART_MARK, autoescape=True)


async def parts_under_way(conn: AsyncConnection, whole: str) -> list[Part]:
    """The parts an interrupted split rebuild of ``whole`` left (none: empty), in bucket order."""
    keys = (await conn.scalars(select(checkpoints.c.projection).where(_under(whole)))).all()
    parts = sorted((Part.from_key(key) for key in keys), key=lambda p: p.first)
    if parts and (
        [p.first for p in parts][1:] != [p.end for p in parts][:-1] or parts[0].first or parts[-1].end != BUCKETS
    ):
        raise RuntimeError(f"{whole}: the parts under way do not cover every bucket once ({list(keys)})")
    return parts


async def start_parts(conn: AsyncConnection, whole: str, stream: str, parts: list[Part], floor: int = 0) -> None:
    """Each part starts where the whole copy stands (what it holds was folded before the split),
    or at ``floor`` if that is further: the log holds nothing up to it (purged)."""
    at = max(await read_checkpoint(conn, whole), floor)
    now = datetime.now(timezone.utc)
    held = set((await conn.scalars(select(checkpoints.c.projection).where(_under(whole)))).all())
    rows = [
        {"projection": part.key(whole), "stream": stream, "last_seq": at, "updated_at": now}
        for part in parts
        if part.key(whole) not in held
    ]
    if rows:
        await conn.execute(checkpoints.insert(), rows)
    await conn.execute(update(checkpoints).where(_under(whole), checkpoints.c.last_seq < floor).values(last_seq=floor))


async def join_parts(conn: AsyncConnection, whole: str, parts: list[Part], until: int) -> None:
    """Every part stands at ``until``: the copy does too; the parts' checkpoints go, and
    what they parked is the copy's."""
    keys = [part.key(whole) for part in parts]
    positions = {key: await read_checkpoint(conn, key) for key in keys}
    behind = {key: at for key, at in positions.items() if at != until}
    if behind:
        raise RuntimeError(f"{whole}: parts not at #{until}: {behind}")
    await conn.execute(
        update(checkpoints)
        .where(checkpoints.c.projection == whole)
        .values(last_seq=until, updated_at=datetime.now(timezone.utc))
    )
    await conn.execute(update(parked_events).where(parked_events.c.projection.in_(keys)).values(projection=whole))
    await conn.execute(delete(checkpoints).where(checkpoints.c.projection.in_(keys)))


async def forget_parts(conn: AsyncConnection, whole: str) -> None:
    prefix = whole + PART_MARK
    await conn.execute(delete(checkpoints).where(_under(whole)))
    await conn.execute(delete(parked_events).where(parked_events.c.projection.startswith(prefix, autoescape=True)))
