"""A running service's infrastructure: broker, event store, database, runners.

The runtime is what a composition root builds and what the app's lifespan starts
and stops. Start-up order matters and is explicit: connect through the
FastStream broker (reconnecting forever), check the server, provision the
service's stream, set up each projection and catch it up from its checkpoint,
reconcile its durable consumer, then start its pull loop (see
``eventstore.consumer`` for why the loop is ours and not a FastStream subscriber).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.nats import NatsBroker
from faststream.nats.security import NatsUserPassword
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import StreamSpec, stream_for
from baton_shared.events.registry import EventRegistry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import JetStreamApiError, check_server, js_api, provision_stream
from baton_shared.projections.feed import ProjectionFeed
from baton_shared.projections.planner_statistics import keep_planner_statistics
from baton_shared.projections.runner import ProjectionRunner, first_behind
from baton_shared.projections import sqlite_placement
from baton_shared.projections.sql import make_engine
from baton_shared.reactions.partitions import PartitionedReaction
from baton_shared.reactions.runner import ReactionRunner
from baton_shared.observability import metrics
from baton_shared.observability.logging import get_logger
from baton_shared.service.migrations import prepare_schema
from baton_shared.service.parts import Runners, ServiceParts
from baton_shared.service.settings import BatonSettings, inbox_prefix, secret_value, shown_url

DATABASE_CHECK_SECONDS = 2.0  # /health's database question
CHECKPOINT_LOOK_SECONDS = 5.0  # how often stored checkpoints are looked at for one that went back
STARTUP_PATIENCE_SECONDS = 120  # how long start-up waits out a broker that cannot answer yet


def broker_not_ready(exc: BaseException) -> bool:
    """JetStream cannot answer *yet*: a request timed out, nobody answers the API subject,
    or the server says JetStream is temporarily unavailable (a cluster electing leaders)."""
    if isinstance(exc, (asyncio.TimeoutError, NoRespondersError)):
        return True
    return isinstance(exc, JetStreamApiError) and exc.code == 503


log = get_logger("baton.runtime")


class ServiceRuntime:
    def __init__(
        self,
        service: str,
        settings: BatonSettings,
        registry: EventRegistry,
        parts: Callable[[AsyncEngine, Runners], ServiceParts],
        background: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
        on_connect: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
    ) -> None:
        self.service = service
        self.settings = settings
        self.registry = registry
        self.spec: StreamSpec = stream_for(service)
        self.broker = NatsBroker(
            servers=[s.strip() for s in settings.nats_url.split(",")],
            security=(
                NatsUserPassword(username=settings.nats_user, password=secret_value(settings.nats_password) or "")
                if settings.nats_user
                else None
            ),
            max_reconnect_attempts=-1,  # reconnect forever: a service outlives broker restarts
            reconnect_time_wait=1,
            connect_timeout=5,
            name=f"baton-{service}",
            inbox_prefix=inbox_prefix(service),
            logger=None,
            reconnected_cb=self._reconnected,
            disconnected_cb=self._disconnected,
        )
        sqlite_placement.run_statements(settings.sqlite_statements)
        self.engine = make_engine(
            settings.database_url_for(service), statement_timeout=settings.database_timeout_seconds
        )
        self.projections: dict[str, ProjectionRunner] = {}
        # What the composition root describes: the same door the ops tool uses.
        self.parts = parts(self.engine, self.projections)
        self._background = list(background)
        self.schedules: list[Callable[[], dict[str, Any]]] = []  # /health's view of background work
        # Run once the stream is provisioned, before anything is served, and again after
        # every reconnection (the broker may come back restored from a backup).
        self._on_connect = list(on_connect)
        self.reactions: dict[str, ReactionRunner] = {}
        self.feeds: list[ProjectionFeed] = []  # one live consumer per stream for the projections above
        # Made now, connected in ``start``: the application layer is built (in the composition
        # root) with this store before the runtime connects. With more than one replica (what
        # provisioning brings the stream to), its loads check a replica's answer with the leader.
        self.store = JetStreamEventStore(None, self.spec, registry, replicas=settings.stream_replicas)
        self._tasks: list[asyncio.Task] = []
        self.started = False
        self.stopping = False

    async def _disconnected(self) -> None:
        if not self.stopping:
            log.warning("NATS connection lost; reconnecting")

    async def _reconnected(self) -> None:
        url = self.nc.connected_url
        log.info("NATS connection back", url=f"{url.hostname}:{url.port}" if url else None)
        for worker in [*self.feeds, *self.reactions.values()]:
            worker.poke()
        if self._on_connect and self.started and not self.stopping:
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.create_task(self._connected_again(), name=f"{self.service}-on-connect"))

    async def _run_on_connect(self) -> None:
        for step in self._on_connect:
            await self.patiently(step.__name__, lambda step=step: step(self))

    async def _connected_again(self) -> None:
        try:
            await self._run_on_connect()
        except Exception as exc:  # noqa: BLE001 - logged; the next reconnection or start tries again
            log.error("a step after reconnecting failed", error=repr(exc)[:300])

    @property
    def nc(self) -> NATS:
        return self.broker.connection

    async def start(self) -> None:
        s = self.settings
        await self.broker.start()  # connects (and reconnects forever); consumers are ours, below
        await check_server(self.nc)
        await self.patiently(
            "provision stream",
            lambda: provision_stream(
                self.nc, self.spec, replicas=s.stream_replicas, duplicate_window_s=s.duplicate_window_seconds
            ),
        )
        self.store.connect(self.nc)
        await self._run_on_connect()
        # The schema before any runner touches a table: migrated here, or checked (compose migrates first).
        await prepare_schema(self.service, self.engine, migrate=s.migrate_on_start)
        by_stream: dict[str, list[ProjectionRunner]] = {}
        for projection in self.parts.projections:
            runner = self.parts.runner(projection, self.engine, self.registry, batch_size=s.projection_batch_size)
            self.projections[projection.name] = runner
            await runner.setup()  # tables and checkpoint exist before the first read, always
            by_stream.setdefault(runner.spec.name, []).append(runner)
        for stream, runners in by_stream.items():
            foreign = stream != self.spec.name
            feed = ProjectionFeed(
                runners, service=self.service, linger_s=s.foreign_projection_linger_ms / 1000 if foreign else 0.0
            )
            self.feeds.append(feed)
            if foreign:
                # Another service's stream may not exist yet: never hold up start-up for it.
                self._tasks.append(asyncio.create_task(self._start_feed(feed), name=feed.key))
            else:
                await self._start_feed(feed)
        for reaction in self.parts.reactions:
            p = s.reaction_partitions
            runners = [
                ReactionRunner(
                    reaction, self.store, self.registry, self.engine, service=self.service, partition=k, partitions=p
                )
                for k in range(p)
            ]
            for k, runner in enumerate(runners):
                self.reactions[reaction.name if p == 1 else f"{reaction.name}.p{k + 1}of{p}"] = runner
            group = PartitionedReaction(runners)
            self._tasks.append(asyncio.create_task(self._start_reaction(group), name=group.key))
        for task in self._background:
            self._tasks.append(asyncio.create_task(task(self), name=f"{self.service}-{task.__name__}"))
        self._tasks.append(asyncio.create_task(self._watch_lag(), name=f"{self.service}-lag"))
        self._tasks.append(asyncio.create_task(self._watch_checkpoints(), name=f"{self.service}-checkpoints"))
        self._tasks.append(
            asyncio.create_task(
                keep_planner_statistics(self.engine, lambda: self.stopping), name=f"{self.service}-planner"
            )
        )
        self.started = True
        log.info("service started", stream=self.spec.name, nats=shown_url(s.nats_url))

    def run_in_background(
        self, task: Callable[[ServiceRuntime], Awaitable[None]], status: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        """Run ``task`` beside the service from ``start`` on (a scheduler made after the runtime,
        since it needs the application layer that the runtime's store serves); ``status`` is
        what /health shows of it."""
        if self.started:
            raise RuntimeError("background tasks are added before the runtime starts")
        self._background.append(task)
        if status is not None:
            self.schedules.append(status)

    async def patiently(self, what: str, step: Callable[[], Awaitable[object]], first_delay: float = 0.5) -> None:
        """A start-up step that talks to JetStream, tried again while the broker cannot answer
        yet (seen: a replica starting beside others on a 3-node cluster timed out asking for
        its consumer and exited). Other errors, or still not ready after
        ``STARTUP_PATIENCE_SECONDS``, are raised."""
        deadline = asyncio.get_running_loop().time() + STARTUP_PATIENCE_SECONDS
        delay = first_delay
        while True:
            try:
                await step()
                return
            except Exception as exc:
                if not broker_not_ready(exc) or self.stopping or asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning(
                    "JetStream not answering yet; trying again", step=what, error=repr(exc)[:200], retry_in=delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _start_feed(self, feed: ProjectionFeed) -> None:
        await self.patiently(feed.key, lambda: self._start_feed_once(feed))

    async def _start_feed_once(self, feed: ProjectionFeed) -> None:
        await self._wait_for_stream(feed.stream_name)
        caught_up = await feed.catch_up(self.nc)
        await feed.prepare_live(self.nc)
        await feed.start_live(self.nc)
        log.info(
            "projections ready",
            projections=[m.key for m in feed.members],
            checkpoints=[m.position for m in feed.members],
            caught_up=caught_up,
        )

    async def _start_reaction(self, group: PartitionedReaction) -> None:
        for runner in group.runners:
            await runner.setup()
            await self.patiently(runner.key, lambda runner=runner: self._start_reaction_once(runner))
        if group.partitions > 1:
            await group.balance_forever(self.nc, lambda: self.stopping)

    async def _start_reaction_once(self, runner: ReactionRunner) -> None:
        await self._wait_for_stream(runner.reaction.source.name)
        await runner.prepare_live(self.nc)
        await runner.start_live(self.nc)
        log.info("reaction ready", reaction=runner.key)

    async def _wait_for_stream(self, stream: str) -> None:
        delay = 0.2
        while not self.stopping:
            try:
                await js_api(self.nc, f"STREAM.INFO.{stream}")
                return
            except JetStreamApiError as exc:
                if exc.err_code != 10059:
                    raise
            log.info("waiting for stream", stream=stream)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)
        raise asyncio.CancelledError

    async def refresh_heads(self) -> None:
        heads: dict[str, int] = {}
        for runner in self.projections.values():
            stream = runner.spec.name
            if stream not in heads:
                try:
                    heads[stream] = int((await js_api(self.nc, f"STREAM.INFO.{stream}"))["state"]["last_seq"])
                except JetStreamApiError:
                    heads[stream] = 0  # not created yet
            runner.head = heads[stream]
            if runner.hears is not None and runner.live:
                await runner.pass_unheard(runner.head)  # a tail of events its feed is not sent
            metrics.PROJECTION_LAG.labels(runner.key).set(max(0, runner.head - runner.position))

    async def read_models_current(self, within: float) -> bool:
        """Whether every projection applies, within ``within`` seconds, what its stream holds
        now: work that decides on the read models (a planner's pass) waits for it after a start,
        a rebuild or an outage, or it would decide on a past that is not the present."""
        try:
            await self.refresh_heads()
        except Exception:  # noqa: BLE001 - the broker is away: not known to be current
            return False
        return await first_behind(self.projections, self.projections, within) is None

    async def _watch_lag(self) -> None:
        while not self.stopping:
            with contextlib.suppress(Exception):
                await self.refresh_heads()
            await asyncio.sleep(1.0)

    async def _watch_checkpoints(self) -> None:
        """Each projection's stored checkpoint, looked at every few seconds: one that went back
        (a PostgreSQL crash lost its last commits while the service was quiet) is applied again
        from there, without waiting for the projection's next write; an event to fold that went
        to another replica long ago is read from the log."""
        while not self.stopping:
            await asyncio.sleep(CHECKPOINT_LOOK_SECONDS)
            for runner in self.projections.values():
                try:
                    await runner.notice_went_back() or await runner.read_what_went_elsewhere()
                except Exception as exc:  # noqa: BLE001 - the next look, or write, tries again
                    log.warning("checkpoint not looked at", projection=runner.key, error=repr(exc)[:300])

    async def database_ok(self, within: float = DATABASE_CHECK_SECONDS) -> bool:
        """Whether the database answers ``SELECT 1`` within ``within`` seconds (a database
        that stops answering must make the health check say so, not hang it)."""

        async def ask() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        # Not wait_for: cancelling a statement on a silent connection waits for its close,
        # which waits on the same silence. The question is left to end by itself (the
        # engine's statement timeout bounds it) and the answer is given on time.
        question = asyncio.ensure_future(ask())
        question.add_done_callback(lambda q: q.cancelled() or q.exception())  # retrieved, never logged
        done, _ = await asyncio.wait({question}, timeout=within)
        return bool(done) and not question.cancelled() and question.exception() is None

    async def stop(self) -> None:
        # Loops also check ``stopping``: on Python 3.11 a cancel racing with an
        # ``asyncio.wait_for`` that completes (nats-py's request uses it) can be
        # swallowed, so cancellation alone cannot be trusted to end a loop.
        self.stopping = True
        pending = set(self._tasks)
        for _ in range(3):
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=2) if pending else (set(), set())
            if not pending:
                break
        for task in pending:
            log.error("background task did not stop", task=task.get_name())
        self._tasks.clear()
        for worker in [*self.reactions.values(), *self.feeds]:
            await worker.stop_live()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.engine.dispose()
        self.started = False
        log.info("service stopped")
