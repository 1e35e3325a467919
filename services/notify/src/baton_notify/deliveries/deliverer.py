"""Deliveries: each active webhook's events, in log order per source stream, once each when the
receiver acknowledges (2xx), retried with exponential backoff and jitter, then parked.

One task per active webhook. A task reads its source streams from the position the receiver last
acknowledged (a consumer kept per stream, ``follower``) and sends one event at a time; caught
up, it waits for news of an event it wants (``arrivals``), or at most
``BATON_WEBHOOKS_RECHECK_SECONDS``. The acknowledged position is written every
``CURSOR_EVERY`` deliveries or within ``CURSOR_SECONDS``, before a failure is recorded, and when
the task ends: killed without a clean stop, it sends the events since
the last write again, with the same ``webhook-id`` (the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import stream_for
from baton_shared.events.registry import EventRegistry
from baton_shared.observability.logging import get_logger

from baton_notify.application.commands import PauseWebhook
from baton_notify.deliveries import state
from baton_notify.deliveries.arrivals import Arrivals
from baton_notify.deliveries.follower import Follower
from baton_notify.deliveries.sender import WebhookSender

log = get_logger("baton.notify.deliveries")
ACTOR = "notify"
CURSOR_EVERY = 100  # acknowledged deliveries between two writes of the position
CURSOR_SECONDS = 0.25  # and at most this long


def backoff(attempt: int, first: float, most: float, rng: Callable[[], float] = random.random) -> float:
    """Delay before retry ``attempt`` (1, 2, ...): doubling from ``first`` up to ``most``, with
    "equal jitter" (half fixed, half random) so receivers coming back are not hit all at once."""
    ceiling = min(most, first * 2 ** (attempt - 1))
    return ceiling / 2 + rng() * ceiling / 2


def stop_if_told() -> None:
    """End the task if it was cancelled, even where a cancellation was swallowed (Python 3.11's
    ``asyncio.wait_for`` can swallow one that arrives as its awaitable finishes)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


def source_streams(event_types: list[str], registry: EventRegistry) -> dict[str, list[str]]:
    """Stream name -> subject filters for the wanted event types."""
    out: dict[str, list[str]] = {}
    for name in event_types:
        cls = registry.get(name)
        if cls is None:
            continue
        spec = stream_for(cls.service)
        out.setdefault(spec.name, []).append(spec.type_filter(name))
    return out


class WebhookDeliverer:
    def __init__(self, engine: AsyncEngine, views, application, registry: EventRegistry, settings, clock) -> None:
        self.engine = engine
        self.views = views
        self.application = application
        self.registry = registry
        self.s = settings
        self.clock = clock
        self.sender = WebhookSender(
            settings.webhooks_timeout_seconds, settings.webhooks_max_response_bytes, settings.webhooks_allow_private
        )
        self.tasks: dict[str, tuple[int, asyncio.Task]] = {}  # webhook id -> (row version, task)

    async def run_forever(self, runtime) -> None:  # noqa: ANN001 - the ServiceRuntime
        self.nc = runtime.nc
        self.arrivals = Arrivals(runtime.nc)
        try:
            while not runtime.stopping:
                try:
                    await self.supervise()
                except Exception as exc:  # noqa: BLE001 - logged; the next round tries again
                    log.error("supervising webhooks failed", error=repr(exc)[:300])
                await asyncio.sleep(self.s.webhooks_poll_seconds)
        finally:
            for _, task in self.tasks.values():
                task.cancel()
            for _, task in self.tasks.values():
                with contextlib.suppress(BaseException):
                    await task
            await self.arrivals.close()
            await self.sender.close()

    async def supervise(self) -> None:
        """A task per active webhook, restarted when its row changes (rotated secret, replay).
        A task told to stop is not waited for: the next round starts its successor once it
        has ended, so one webhook never has two senders and a slow stop holds up no other."""
        active = await self.views.active_versions()
        for webhook_id, (version, task) in list(self.tasks.items()):
            if task.done():
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "a webhook's deliveries failed", webhook_id=webhook_id, error=repr(task.exception())[:300]
                    )
                del self.tasks[webhook_id]
                continue
            if active.get(webhook_id) != version and not task.cancelling():
                task.cancel()
        starting = [webhook_id for webhook_id in active if webhook_id not in self.tasks]
        for row in await self.views.active_webhooks(starting) if starting else ():
            task = asyncio.create_task(self.deliver(row), name=f"webhook-{row['webhook_id']}")
            self.tasks[row["webhook_id"]] = (row["version"], task)

    async def deliver(self, row: dict) -> None:
        webhook_id = row["webhook_id"]
        secret = self.application.unwrap(webhook_id, row["wrapped_secret"])
        streams = source_streams(row["event_types"], self.registry)
        positions = await self._positions(row, streams)
        parked_ids = await self._parked_ids(webhook_id)
        since = row["replay_since"]
        loop = asyncio.get_running_loop()
        pending: dict[str, list[int]] = {}  # stream -> [acknowledged position, deliveries] not written yet
        written_at = loop.time()
        news = self.arrivals.listen(streams)
        followers = {
            stream: Follower(self.nc, stream, filters, positions[stream]) for stream, filters in streams.items()
        }

        async def write_positions() -> None:
            nonlocal written_at
            for stream, (seq, delivered) in list(pending.items()):
                await self._advance(webhook_id, stream, seq, delivered=delivered)
            pending.clear()
            written_at = loop.time()

        try:
            while True:
                stop_if_told()
                news.clear()  # what is stored from here on is read now or wakes the wait below
                unchecked = True
                for stream, follower in followers.items():
                    try:
                        while batch := await follower.read():
                            if unchecked:  # paused, replayed or changed since: the supervisor restarts it
                                unchecked = False
                                if await self.views.active_version(webhook_id) != row["version"]:
                                    return
                            for raw in batch:
                                stop_if_told()
                                recorded = self.registry.decode(stream, raw.seq, raw.subject, raw.data)
                                delivered = 0
                                if self._wanted(row, recorded, since):
                                    attempts = await self._send_until_acknowledged(
                                        row, secret, stream, recorded, write_positions
                                    )
                                    if attempts is None:
                                        return  # parked and paused: the supervisor ends this task
                                    event_id = recorded.envelope.event_id
                                    if attempts or event_id in parked_ids:  # its failures are on record
                                        await write_positions()
                                        await self._advance(webhook_id, stream, raw.seq, delivered=1, event_id=event_id)
                                        parked_ids.discard(event_id)
                                        positions[stream] = raw.seq
                                        continue
                                    delivered = 1
                                position = pending.setdefault(stream, [raw.seq, 0])
                                position[0], position[1] = raw.seq, position[1] + delivered
                                positions[stream] = raw.seq
                                if (
                                    sum(n for _, n in pending.values()) >= CURSOR_EVERY
                                    or loop.time() - written_at >= CURSOR_SECONDS
                                ):
                                    await write_positions()
                    except Exception as exc:  # noqa: BLE001 - a stream missing yet, a broker away: try again
                        await follower.restart_after(positions[stream])  # what it handed out past it is unsent
                        if "stream not found" not in str(exc).lower():
                            log.warning("reading for a webhook failed", webhook_id=webhook_id, error=repr(exc)[:300])
                # At the head: what was acknowledged goes on record within CURSOR_SECONDS.
                wait = self.s.webhooks_recheck_seconds
                if pending:
                    wait = CURSOR_SECONDS - (loop.time() - written_at)
                    if wait <= 0:
                        await write_positions()
                        wait = self.s.webhooks_recheck_seconds
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await news.wait()
        finally:
            self.arrivals.forget(news)
            if pending:
                with contextlib.suppress(Exception):
                    await write_positions()
            for follower in followers.values():
                await follower.close()

    async def _parked_ids(self, webhook_id: str) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(state.parked.c.event_id).where(state.parked.c.webhook_id == webhook_id))
            return {r.event_id for r in rows}

    @staticmethod
    def _wanted(row: dict, recorded, since: datetime | None) -> bool:
        payload = recorded.envelope.payload
        if row["client_id"] and payload.get("client_id") != row["client_id"]:
            return False
        if row["department"] and payload.get("department") != row["department"]:
            return False
        if since is not None:
            at = since if since.tzinfo else since.replace(tzinfo=recorded.envelope.occurred_at.tzinfo)
            if recorded.envelope.occurred_at < at:
                return False
        return True

    async def _positions(self, row: dict, streams: dict[str, list[str]]) -> dict[str, int]:
        """Per stream, where to go on from: the cursor, unless a newer subscribe/replay set a start."""
        webhook_id = row["webhook_id"]
        async with self.engine.begin() as conn:
            found = {
                r.stream: r
                for r in (await conn.execute(select(state.cursors).where(state.cursors.c.webhook_id == webhook_id)))
            }
            out = {}
            for stream in streams:
                cursor = found.get(stream)
                # A replay by time starts every stream over; by positions, the streams it names.
                kept = cursor.position if cursor is not None else 0
                start = 0 if row["replay_since"] is not None else int(row["start_positions"].get(stream, kept))
                if cursor is not None and cursor.replay_seq == row["replay_seq"]:
                    out[stream] = cursor.position
                    continue
                values = {
                    "position": start,
                    "replay_seq": row["replay_seq"],
                    "attempts": 0,
                    "failing_since": None,
                    "updated_at": self.clock(),
                }
                if cursor is None:
                    await conn.execute(
                        insert(state.cursors).values(webhook_id=webhook_id, stream=stream, delivered=0, **values)
                    )
                else:
                    await conn.execute(
                        update(state.cursors)
                        .where(state.cursors.c.webhook_id == webhook_id, state.cursors.c.stream == stream)
                        .values(**values)
                    )
                out[stream] = start
        return out

    async def _advance(
        self, webhook_id: str, stream: str, seq: int, *, delivered: int, event_id: str | None = None
    ) -> None:
        c = state.cursors.c
        async with self.engine.begin() as conn:
            values = {"position": seq, "attempts": 0, "failing_since": None, "updated_at": self.clock()}
            if delivered:
                values["delivered"] = c.delivered + delivered
            await conn.execute(
                update(state.cursors).where(c.webhook_id == webhook_id, c.stream == stream).values(**values)
            )
            if event_id is not None:
                await conn.execute(
                    delete(state.parked).where(
                        state.parked.c.webhook_id == webhook_id, state.parked.c.event_id == event_id
                    )
                )

    async def _failed(self, webhook_id: str, stream: str, attempts: int, since: datetime, error: str) -> None:
        c = state.cursors.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(state.cursors)
                .where(c.webhook_id == webhook_id, c.stream == stream)
                .values(
                    attempts=attempts,
                    failing_since=since,
                    last_error=error,
                    last_error_at=self.clock(),
                    updated_at=self.clock(),
                )
            )

    async def _send_until_acknowledged(
        self, row: dict, secret: str, stream: str, recorded, write_positions
    ) -> int | None:
        """The failed attempts before the receiver acknowledged; None when retries ran out
        (parked, webhook paused). The positions acknowledged before are written first."""
        webhook_id = row["webhook_id"]
        attempts, failing_since = 0, None
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            outcome = await self.sender.send(row["url"], secret, recorded)
            if outcome.ok:
                return attempts
            if attempts == 0:
                await write_positions()
            attempts += 1
            failing_since = failing_since or self.clock()
            await self._failed(webhook_id, stream, attempts, failing_since, outcome.error or "failed")
            if loop.time() - started >= self.s.webhooks_retry_for_seconds:
                await self._park(row, stream, recorded, attempts, outcome.error or "failed")
                return None
            delay = backoff(attempts, self.s.webhooks_backoff_first_seconds, self.s.webhooks_backoff_max_seconds)
            remaining = self.s.webhooks_retry_for_seconds - (loop.time() - started)
            await asyncio.sleep(max(0.0, min(delay, remaining)))

    async def _park(self, row: dict, stream: str, recorded, attempts: int, error: str) -> None:
        webhook_id, event_id = row["webhook_id"], recorded.envelope.event_id
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(state.parked).where(state.parked.c.webhook_id == webhook_id, state.parked.c.event_id == event_id)
            )
            await conn.execute(
                insert(state.parked).values(
                    webhook_id=webhook_id,
                    event_id=event_id,
                    stream=stream,
                    seq=recorded.seq,
                    event_type=recorded.envelope.event_type,
                    attempts=attempts,
                    error=error,
                    parked_at=self.clock(),
                )
            )
        log.warning("webhook delivery parked; webhook paused", webhook_id=webhook_id, event_id=event_id, error=error)
        await self.application.pause(
            PauseWebhook(
                webhook_id=webhook_id, actor=ACTOR, reason="retries ran out", parked_event_id=event_id, last_error=error
            )
        )
