"""A hand-driven pull loop on a durable JetStream consumer that never drops a message.

Why not FastStream's batch pull subscriber (or nats-py ``fetch()``)? Both wait
for messages with ``asyncio.wait_for(queue.get(), timeout)``. On Python 3.11 a
message that arrives just as such a short timeout fires is lost client-side; it
was delivered, so the server will not send it again until ``ack_wait``, and
with ack-all it never will once a later message is acknowledged. Measured here:
live projections through FastStream 0.7.8's ``PullSub(batch=True, timeout=0.02)``
skipped events in 5 of 5 runs of 135 events. This loop receives through a
subscription callback into a deque and only *wakes* on an event, so a timeout
can cost a wake-up, never a message.

One pull request is in flight at a time (``batch``, long-poll ``expires``); the
handler gets whatever arrived, in delivery order, as soon as it arrived, so a
quiet stream is handled message by message and a busy one in batches. With
``linger_s`` a busy loop (its last hand-over that recent) waits that long for more
before handing over, so more events share a transaction.

With ``group`` the consumer is a pinned-client priority group (nats-server >= 2.11):
the server delivers to one client at a time, the one whose pull requests carry the
pin id it was given (``Nats-Pin-Id`` on each message); the others' requests wait,
and take over when the pinned client stops pulling for the consumer's
``priority_timeout``. ``pin_id`` is the id this loop holds (None: not pinned).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.eventstore.provisioning import NS
from baton_shared.observability.logging import get_logger

log = get_logger("baton.consumer")

Handler = Callable[[list[Msg]], Awaitable[None]]
Recover = Callable[[], Awaitable[None]]


class PullLoop:
    def __init__(
        self,
        nc: NATS,
        stream: str,
        durable: str,
        handler: Handler,
        *,
        batch_size: int = 500,
        expires_s: float = 5.0,
        recover: Recover | None = None,
        linger_s: float = 0.0,
        group: str | None = None,
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.durable = durable
        self.handler = handler
        self.batch_size = batch_size
        self.expires_s = expires_s
        self.recover = recover
        self.linger_s = linger_s
        self.group = group
        self.pin_id: str | None = None
        self._handed_over = 0.0
        self._inbox = nc.new_inbox()
        self._arrived: deque[Msg] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._sub = None
        self.running = False
        self._repull = False

    async def start(self) -> None:
        async def on_message(msg: Msg) -> None:
            self._arrived.append(msg)
            self._wake.set()

        self._sub = await self.nc.subscribe(self._inbox, cb=on_message)
        self.running = True
        self._task = asyncio.create_task(self._run(), name=f"pull-{self.durable}")

    def poke(self) -> None:
        """Pull again now (after a reconnect the request in flight is gone)."""
        self._repull = True
        self._wake.set()

    async def pause(self) -> None:
        """Stop asking for more, keeping the subscription: what is on its way still arrives
        (``arrived`` takes it), so it can be given back instead of waiting out ``ack_wait``."""
        self.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def arrived(self) -> list[Msg]:
        """The messages that arrived and were not handed over (status replies left out)."""
        taken = [m for m in self._arrived if m.reply]
        self._arrived.clear()
        return taken

    async def stop(self) -> None:
        self.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _pull(self) -> float:
        request: dict = {"batch": self.batch_size, "expires": int(self.expires_s * NS)}
        if self.group is not None:
            request["group"] = self.group
            if self.pin_id is not None:
                request["id"] = self.pin_id
        body = orjson.dumps(request)
        await self.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}", body, reply=self._inbox)
        return time.monotonic() + self.expires_s + 1.0

    async def _run(self) -> None:
        remaining = 0  # messages the request in flight may still bring
        deadline = 0.0
        failures = 0
        while self.running:
            try:
                if self._repull or remaining <= 0 or time.monotonic() > deadline:
                    self._repull = False
                    if not self.nc.is_connected:
                        await asyncio.sleep(0.2)
                        continue
                    deadline = await self._pull()
                    remaining = self.batch_size
                await self._arrival(max(0.01, deadline - time.monotonic()))
                batch: list[Msg] = []
                remaining = await self._take(batch, remaining)
                if batch and self.linger_s > 0 and time.monotonic() - self._handed_over < self.linger_s:
                    # Busy (the last batch was a moment ago): gather more. A first event after
                    # a quiet spell is handed over at once.
                    remaining = await self._linger(batch, remaining)
                if batch:
                    self._handed_over = time.monotonic()
                    await self.handler(batch)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                failures += 1
                log.error("pull loop error", durable=self.durable, error=repr(exc), failures=failures)
                remaining = 0
                await asyncio.sleep(min(0.2 * failures, 5.0))

    async def _arrival(self, timeout: float) -> None:
        """Wait until something has arrived, at most ``timeout`` (a wake-up, never a message:
        messages are only ever taken from the deque)."""
        if not self._arrived:
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _take(self, batch: list[Msg], remaining: int) -> int:
        """Move what arrived into ``batch``; returns what the pull request may still bring."""
        while self._arrived:
            msg = self._arrived.popleft()
            status = (msg.headers or {}).get("Status") if not msg.reply else None
            if status is None:
                if self.group is not None:
                    self.pin_id = (msg.headers or {}).get("Nats-Pin-Id", self.pin_id)
                batch.append(msg)
                remaining -= 1
            elif status == "423":  # the pin went to another client (ours lapsed): ask again, unpinned
                self.pin_id = None
                remaining = 0
            elif status in ("404", "408", "409"):
                remaining = 0  # that request is over
                description = (msg.headers or {}).get("Description", "")
                if status == "409" and "Consumer Deleted" in description and self.recover:
                    log.warning("consumer deleted; recovering", durable=self.durable)
                    await self.recover()
        return remaining

    async def _linger(self, batch: list[Msg], remaining: int) -> int:
        """Wait up to ``linger_s`` for more before handing ``batch`` over, unless the pull
        request is spent or the batch full: one transaction for several events instead of
        one each, at the price of that much freshness."""
        until = time.monotonic() + self.linger_s
        while remaining > 0 and len(batch) < self.batch_size and self.running:
            left = until - time.monotonic()
            if left <= 0:
                break
            await self._arrival(left)
            remaining = await self._take(batch, remaining)
        return remaining


class DeferredAckAll:
    """Acknowledges (ack-all) the newest message handed to it at most every ``delay_s``,
    or at once when ``most`` are waiting, instead of one acknowledgement per batch.

    For consumers whose owner keeps its own position with what it wrote (the
    projections' checkpoints): the acknowledgement then only spares the server a
    redelivery, and what it redelivers is at or below the checkpoint and ignored.
    Each acknowledgement is a message the client flushes to the socket and the server
    records in the consumer's state; at 200 handoffs/s there were six of them per
    handoff across the services' feeds, most of them covering one event each.
    An acknowledgement that cannot be sent (a reconnect) is covered by the next one,
    or by the redelivery after ``ack_wait``.
    """

    confirm_timeout_s = 2.0

    def __init__(self, delay_s: float, most: int) -> None:
        self.delay_s = delay_s
        self.most = most
        self._newest: Msg | None = None
        self._waiting = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task] = set()
        self._last_sent: Msg | None = None

    def applied(self, msgs: list[Msg]) -> None:
        """``msgs`` (a delivery's batch, in order) are applied: acknowledge them soon."""
        self._newest = msgs[-1]
        self._waiting += len(msgs)
        if self._waiting >= self.most or self.delay_s <= 0:
            self._send_soon()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay_s, self._send_soon)

    def _send_soon(self) -> None:
        task = asyncio.ensure_future(self.send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def close(self, nc: NATS) -> None:
        """At stop: acknowledge the newest message and wait until the server has recorded it.

        A plain acknowledgement is a publish that the server applies a moment later, so a
        consumer read (or a restart) just after stop could still see it pending.
        """
        self._cancel_timer()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        newest, self._newest, self._waiting = self._newest or self._last_sent, None, 0
        if newest is None or not nc.is_connected:
            return  # unsent, it is redelivered at the next start and skipped below the checkpoint
        try:  # an acknowledgement with a reply subject is answered once recorded (ack-all again)
            await nc.request(newest.reply, b"", timeout=self.confirm_timeout_s)
        except Exception as exc:  # noqa: BLE001 - as above: a redelivery, not a loss
            log.debug("acknowledgement at stop not confirmed", error=repr(exc)[:200])

    async def send(self) -> None:
        """Acknowledge what is waiting now."""
        self._cancel_timer()
        newest, self._newest, self._waiting = self._newest, None, 0
        if newest is None:
            return
        try:
            await newest.ack()
            self._last_sent = newest
        except Exception as exc:  # noqa: BLE001 - the next acknowledgement covers it (ack-all)
            log.debug("acknowledgement not sent", error=repr(exc)[:200])

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class DurableWorker:
    """What owns a pull loop on its durable consumer: start, poke after a reconnect, stop.

    Subclasses (the projection and reaction runners) provide ``stream_name``,
    ``durable``, ``batch_size``, ``prepare_live`` and ``_on_messages``.
    """

    stream_name: str
    durable: str
    batch_size: int
    linger_s: float = 0.0  # see PullLoop._linger
    priority_group: str | None = None  # see PullLoop (pinned client)
    pull_expires_s: float = 5.0  # how long one pull request waits for messages
    ack_delay_s: float = 0.0  # see DeferredAckAll: 0 acknowledges each batch as it is applied
    ack_most: int = 1000
    live: bool = False
    stopping: bool = False  # retry loops give up when set (a swallowed cancel must not keep them going)
    _loop: PullLoop | None = None
    _nc: NATS | None = None
    _acks: DeferredAckAll | None = None

    async def prepare_live(self, nc: NATS, *, at_start: bool = True) -> None:
        """Reconcile the durable consumer; ``at_start=False`` when recovering one deleted under us."""
        raise NotImplementedError

    async def _on_messages(self, msgs: list[Msg]) -> None:
        raise NotImplementedError

    async def start_live(self, nc: NATS) -> None:
        self._nc = nc
        self.stopping = False
        self._loop = PullLoop(
            nc,
            self.stream_name,
            self.durable,
            self._on_messages,
            batch_size=self.batch_size,
            expires_s=self.pull_expires_s,
            recover=lambda: self.prepare_live(nc, at_start=False),
            linger_s=self.linger_s,
            group=self.priority_group,
        )
        await self._loop.start()
        self.live = True

    def poke(self) -> None:
        if self._loop is not None:
            self._loop.poke()

    def acknowledge(self, msgs: list[Msg]) -> None:
        """``msgs`` are applied and their position stored: acknowledge them (ack-all), now or
        within ``ack_delay_s``."""
        if self._acks is None:
            self._acks = DeferredAckAll(self.ack_delay_s, self.ack_most)
        self._acks.applied(msgs)

    async def stop_live(self) -> None:
        self.stopping = True
        if self._loop is not None:
            await self._loop.stop()
        if self._acks is not None and self._nc is not None:
            await self._acks.close(self._nc)
        self.live = False

    def give_up_if_stopping(self) -> None:
        """Called between retries: a worker being stopped leaves what it retries unacknowledged
        (delivered again at the next start) instead of retrying on. On Python 3.11 a cancel can
        be swallowed by a racing ``wait_for``, so the cancel alone does not end a retry loop."""
        if self.stopping:
            raise asyncio.CancelledError(f"{self.durable} stopping")
