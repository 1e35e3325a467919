"""News of events stored on the source streams, so that a caught-up webhook waits for one it
wants instead of asking each stream's head several times a second.

One watcher per source stream that some webhook reads: an ephemeral consumer delivering new
messages' headers only (no payload), filtered on the event types wanted, and a pull request
the server holds until one is stored. Each arrival sets the signal of every webhook wanting
its type. A watcher (re)started sets them all, for what was stored while none watched; a
watcher that hears nothing, not even its request's expiry, is started again. The news is a
hint: a webhook still reads the log from its cursor, and looks anyway every so often
(``BATON_WEBHOOKS_RECHECK_SECONDS``) in case news was lost.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.eventstore.provisioning import NS, js_api
from baton_shared.eventstore.reader import ephemeral_consumer
from baton_shared.observability.logging import get_logger

log = get_logger("baton.notify.arrivals")
BATCH = 256  # arrivals one pull request asks for
EXPIRED = "408"  # a held pull request's time ran out: the only answer asked again at once


def event_type_of(subject: str) -> str:
    return subject.rpartition(".")[2]


class Interest:
    __slots__ = ("filters", "types")

    def __init__(self, filters: list[str]) -> None:
        self.filters = frozenset(filters)
        self.types = frozenset(event_type_of(f) for f in filters)


class Silent(Exception):
    """A watcher's consumer sent nothing, not even its request's expiry."""


class Arrivals:
    def __init__(self, nc: NATS, *, hold_seconds: float = 10.0, retry_seconds: float = 1.0) -> None:
        self.nc = nc
        self.hold_seconds = hold_seconds  # how long the server holds a pull request
        self.retry_seconds = retry_seconds
        self.listeners: dict[str, dict[asyncio.Event, Interest]] = {}  # stream -> signal -> what it wants
        self.watchers: dict[str, tuple[frozenset[str], asyncio.Task]] = {}  # stream -> (filters, task)

    def listen(self, streams: dict[str, list[str]]) -> asyncio.Event:
        """A signal set when an event matching ``streams`` (stream -> type filters) is stored;
        ``forget`` it when done."""
        signal = asyncio.Event()
        for stream, filters in streams.items():
            self.listeners.setdefault(stream, {})[signal] = Interest(filters)
            self._rewatch(stream)
        return signal

    def forget(self, signal: asyncio.Event) -> None:
        for stream, listening in self.listeners.items():
            if listening.pop(signal, None) is not None:
                self._rewatch(stream)

    async def close(self) -> None:
        tasks = [task for _, task in self.watchers.values()]
        self.watchers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def _rewatch(self, stream: str) -> None:
        """The watcher of ``stream`` follows the filters of the webhooks listening now."""
        wanted = frozenset().union(*(i.filters for i in self.listeners.get(stream, {}).values()))
        current = self.watchers.get(stream)
        if current is not None and current[0] == wanted:
            return
        if current is not None:
            current[1].cancel()
            del self.watchers[stream]
        if wanted:
            task = asyncio.create_task(self._watch(stream, sorted(wanted), current and current[1]))
            self.watchers[stream] = (wanted, task)

    async def _watch(self, stream: str, filters: list[str], previous: asyncio.Task | None) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous  # its consumer deleted before this one is made
        while True:
            try:
                await self._follow(stream, filters)
            except Silent:
                log.info("a stream's watcher heard nothing; starting it again", stream=stream)
            except Exception as exc:  # noqa: BLE001 - a broker away, a stream not made yet: again
                if "stream not found" not in str(exc).lower():
                    log.warning("watching a stream for webhooks failed", stream=stream, error=repr(exc)[:300])
            await asyncio.sleep(self.retry_seconds)

    async def _follow(self, stream: str, filters: list[str]) -> None:
        """Until the consumer falls silent or refuses: each arrival wakes the webhooks wanting it."""
        config = {
            "deliver_policy": "new",
            "headers_only": True,
            "filter_subjects": filters,
            "inactive_threshold": int(max(30.0, 3 * self.hold_seconds) * NS),
        }
        consumer = (await ephemeral_consumer(self.nc, stream, config))["name"]
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        sub = await self.nc.subscribe(self.nc.new_inbox(), cb=queue.put)
        pull = orjson.dumps({"batch": BATCH, "expires": int(self.hold_seconds * NS)})
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        try:
            self._wake(stream, None)  # stored while no consumer watched
            await self.nc.publish(subject, pull, reply=sub.subject)
            left = BATCH
            while True:
                try:
                    msg = await asyncio.wait_for(queue.get(), 2 * self.hold_seconds + 5)
                except asyncio.TimeoutError:
                    raise Silent(stream) from None
                if msg.reply and msg.reply.startswith("$JS.ACK."):
                    self._wake(stream, event_type_of(msg.subject))
                    left -= 1
                    if left > 0:
                        continue
                else:
                    status = (msg.headers or {}).get("Status")
                    if status != EXPIRED:
                        raise RuntimeError(f"the watcher's pull was answered {status} {msg.headers}")
                await self.nc.publish(subject, pull, reply=sub.subject)
                left = BATCH
        finally:
            await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await js_api(self.nc, f"CONSUMER.DELETE.{stream}.{consumer}")

    def _wake(self, stream: str, event_type: str | None) -> None:
        for signal, interest in self.listeners.get(stream, {}).items():
            if event_type is None or event_type in interest.types:
                signal.set()
