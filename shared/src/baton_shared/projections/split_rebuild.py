"""Folding a rebuild's parts side by side.

This process reads the log once and folds the first part; each other part is folded
by a child process (spawned) that gets every batch through a pipe, with the bodies of
other parts' events left out. Reading is a third of a rebuild's CPU in nats-py: parts
that each read the log themselves were no faster on two cores (docs/architecture.md).
A projection class a child cannot import (one made by a function) has all its parts
folded here, one after the other per batch.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import multiprocessing
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.registry import EventRegistry
from baton_shared.eventstore.provisioning import js_api
from baton_shared.eventstore.reader import RawEvent, log_gaps, read_stream
from baton_shared.projections.parts import Part, bucket, join_parts, start_parts
from baton_shared.projections.base import Projection
from baton_shared.projections.checkpoints import read_checkpoint
from baton_shared.projections.runner import ProgressCallback, ProjectionRunner

PART_FAILED = "failed"


class SplitRefused(RuntimeError):
    """The log has holes that only a part reading it itself could pass."""


class PartFailed(RuntimeError):
    """A child process folding one part of a rebuild stopped with an error (it is resumable)."""


class ProjectionRebuild(Protocol):
    """What of ``rebuild.ProjectionRebuild`` its parts need."""

    service: str
    make: Callable[[str], Projection]
    copy: Projection
    engine: AsyncEngine
    spec: StreamSpec
    registry: EventRegistry
    runner: ProjectionRunner


@dataclass(frozen=True)
class PartJob:
    """What a child process needs to fold one part (picklable)."""

    service: str
    projection_class: tuple[str, str]  # module, qualified name
    suffix: str
    database_url: str
    spec: StreamSpec
    part: Part
    collector_thresholds: tuple[int, ...]  # the parent's: the ops tool's are tuned for bulk work


def named_class(make: Callable) -> tuple[str, str] | None:
    """(module, name) of a projection class a child process can import; None for anything else."""
    if isinstance(make, type) and "<" not in make.__qualname__:
        return make.__module__, make.__qualname__
    return None


async def stream_head(nc: NATS, stream: str) -> int:
    return int((await js_api(nc, f"STREAM.INFO.{stream}"))["state"]["last_seq"])


async def splittable_log(nc: NATS, stream: str) -> bool:
    """No sequence deleted inside the log (purged before its first one is fine)."""
    return not (await log_gaps(nc, stream)).deleted


def part_runner(rebuild: ProjectionRebuild, part: Part) -> ProjectionRunner:
    copy = rebuild.make(rebuild.copy.suffix)
    return ProjectionRunner(copy, rebuild.engine, rebuild.spec, rebuild.registry, service=rebuild.service, part=part)


class ChildPart:
    """A child process folding one part, fed batch by batch through a pipe."""

    def __init__(self, job: PartJob) -> None:
        context = multiprocessing.get_context("spawn")
        self.part = job.part
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(target=fold_forwarded, args=(job, child_end), daemon=True)
        self.process.start()
        child_end.close()

    async def send(self, batch: list[RawEvent]) -> None:
        """Every event, each other part's without its body (only its sequence and subject matter there)."""
        first, end = self.part.first, self.part.end
        rows = [(r.seq, r.subject, r.data if first <= bucket(r.subject) < end else b"", r.timestamp_ns) for r in batch]
        await self._send(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))

    async def finish(self) -> int:
        """Tell the child the log ends here; its position once it has stored it."""
        await self._send(pickle.dumps(None))
        outcome = await asyncio.to_thread(self._receive)
        await asyncio.to_thread(self.process.join, 30)
        return outcome

    def stop(self) -> None:
        self.pipe.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)

    async def _send(self, payload: bytes) -> None:
        try:
            await asyncio.to_thread(self.pipe.send_bytes, payload)
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise PartFailed(self._why()) from None

    def _receive(self) -> int:
        try:
            kind, value = self.pipe.recv()
        except (EOFError, OSError):
            raise PartFailed(self._why()) from None
        if kind == PART_FAILED:
            raise PartFailed(f"{self.part.name}: {value}")
        return int(value)

    def _why(self) -> str:
        if self.pipe.poll(1):
            try:
                kind, value = self.pipe.recv()
                return f"{self.part.name}: {value}"
            except (EOFError, OSError):
                pass
        self.process.join(5)
        return f"{self.part.name}: its process ended (exit code {self.process.exitcode})"


async def build_in_parts(
    rebuild: ProjectionRebuild,
    nc: NATS,
    parts: list[Part],
    until: int | None,
    batch_size: int,
    progress: ProgressCallback | None = None,
) -> int:
    """Fold every part up to ``until`` (default: the head now), then join them; returns how
    many events were read."""
    whole = rebuild.runner.key
    until = until if until is not None else await stream_head(nc, rebuild.spec.name)
    gaps = await log_gaps(nc, rebuild.spec.name)
    if gaps.deleted:  # a child cannot ask the log what it lacks; Baton's own streams deny deletes
        raise SplitRefused(
            f"{rebuild.spec.name} has deleted sequences: discard this rebuild, then rebuild with one part"
        )
    async with rebuild.engine.begin() as conn:
        # Nothing before the log's first sequence is held (a stream that allows purges, as the
        # bench's): every part starts past it, as one process passes it.
        await start_parts(conn, whole, rebuild.spec.name, parts, floor=gaps.first_seq - 1)
    named = named_class(rebuild.make)
    first, *others = parts
    local = [part_runner(rebuild, part) for part in ([first] if named else [first, *others])]
    for runner in local:
        await runner.setup()
        runner.reads_log_with(nc)
    children: list[ChildPart] = []
    try:
        if named:
            url = rebuild.engine.url.render_as_string(hide_password=False)
            children = [
                ChildPart(
                    PartJob(rebuild.service, named, rebuild.copy.suffix, url, rebuild.spec, part, gc.get_threshold())
                )
                for part in others
            ]
        async with rebuild.engine.connect() as conn:  # the log is read from the part furthest behind
            start = min([await read_checkpoint(conn, part.key(whole)) for part in parts])
        read = 0
        async for batch in read_stream(
            nc, rebuild.spec.name, start_seq=start + 1, end_seq=until, batch_size=batch_size
        ):
            sending = [asyncio.ensure_future(child.send(batch)) for child in children]
            try:
                for runner in local:
                    await runner.apply_resilient(batch)
            finally:
                await asyncio.gather(*sending)
            read += len(batch)
            if progress is not None:
                progress(batch[-1].seq, until)
        for runner in local:
            await runner.flush_checkpoint()
        for child in children:
            await child.finish()
    finally:
        for child in children:
            child.stop()
    async with rebuild.engine.begin() as conn:
        await join_parts(conn, whole, parts, until)
    return read


def fold_forwarded(job: PartJob, pipe: Connection) -> None:
    """A child process: fold the batches the pipe brings into one part; answer its position."""
    gc.set_threshold(*job.collector_thresholds)
    try:
        pipe.send(("done", asyncio.run(_fold_forwarded(job, pipe))))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        pipe.send((PART_FAILED, f"{type(exc).__name__}: {exc}"[:2000]))
    finally:
        pipe.close()


async def _fold_forwarded(job: PartJob, pipe: Connection) -> int:
    from baton_shared.contracts import registry
    from baton_shared.projections.sql import make_engine

    module, name = job.projection_class
    make = getattr(importlib.import_module(module), name)
    engine = make_engine(job.database_url)
    try:
        runner = ProjectionRunner(make(job.suffix), engine, job.spec, registry, service=job.service, part=job.part)
        await runner.setup()
        coming = asyncio.ensure_future(asyncio.to_thread(pipe.recv_bytes))
        while (rows := pickle.loads(await coming)) is not None:
            coming = asyncio.ensure_future(asyncio.to_thread(pipe.recv_bytes))  # the next, while this one is folded
            await runner.apply_resilient([RawEvent(*row) for row in rows])
        await runner.flush_checkpoint()
        return runner.position
    finally:
        await engine.dispose()
