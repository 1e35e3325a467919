"""A webhook's reading of one source stream: one ephemeral consumer kept from the webhook's
position, asked for what it holds now each time the webhook looks (news of an arrival, or the
recheck). One request per look, where a consumer made and deleted per look cost four.

The consumer is unacknowledged: what it handed out is gone from it, so the webhook says where
to go on from when a read was not worked through (``restart_after``). A consumer lost (a
restart of nats-server, its inactivity threshold) is made again from the last event read.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.eventstore.provisioning import NS, js_api
from baton_shared.eventstore.reader import RawEvent, ack_metadata, ephemeral_consumer

NO_MESSAGES, EXPIRED = "404", "408"  # the two answers that end a look with nothing lost


class ConsumerGone(Exception):
    """The kept consumer is not there, or did not answer."""


class Follower:
    def __init__(
        self, nc: NATS, stream: str, filters: list[str], after: int, *, batch: int = 200, timeout: float = 5.0
    ) -> None:
        self.nc, self.stream, self.filters = nc, stream, list(filters)
        self.after = after  # the last sequence handed to the webhook
        self.batch, self.timeout = batch, timeout
        self.consumer: str | None = None
        self.sub = None
        self.replies: asyncio.Queue[Msg] = asyncio.Queue()
        self.inbox, self.looks = "", 0  # each look's answers come to <inbox>.<look>

    async def read(self) -> list[RawEvent]:
        """The next events after the last one read, at most ``batch``; [] when there are none now."""
        try:
            return await self._look()
        except ConsumerGone:
            await self.restart_after(self.after)
            return await self._look()

    async def restart_after(self, seq: int) -> None:
        """Read next from after ``seq`` (what was handed out past it was not worked through)."""
        await self.close()
        self.after = seq

    async def close(self) -> None:
        consumer, sub, self.consumer, self.sub = self.consumer, self.sub, None, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if consumer is not None:
            with contextlib.suppress(Exception):
                await js_api(self.nc, f"CONSUMER.DELETE.{self.stream}.{consumer}")

    async def _make(self) -> None:
        config = {
            "deliver_policy": "by_start_sequence",
            "opt_start_seq": self.after + 1,
            "filter_subjects": self.filters,
            "inactive_threshold": 120 * NS,  # past it (a recheck set longer), the next look makes it again
        }
        created = await ephemeral_consumer(self.nc, self.stream, config, self.timeout)
        self.replies = asyncio.Queue()
        self.inbox = self.nc.new_inbox()
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self.replies.put)
        self.consumer = created["name"]

    async def _look(self) -> list[RawEvent]:
        if self.consumer is None:
            await self._make()
        self.looks += 1
        reply = f"{self.inbox}.{self.looks}"
        request = orjson.dumps({"batch": self.batch, "no_wait": True})
        await self.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}", request, reply)
        out: list[RawEvent] = []
        while len(out) < self.batch:
            try:
                msg = await asyncio.wait_for(self.replies.get(), self.timeout)
            except TimeoutError:
                raise ConsumerGone(f"{self.stream}: no answer in {self.timeout}s") from None
            if msg.reply and msg.reply.startswith("$JS.ACK."):
                seq, ts = ack_metadata(msg.reply)
                out.append(RawEvent(seq, msg.subject, msg.data, ts))
                continue
            if msg.subject != reply:
                continue  # how an earlier look ended, late
            headers = msg.headers or {}
            status, description = headers.get("Status"), headers.get("Description", "")
            if status == EXPIRED or (status == NO_MESSAGES and "no messages" in description.lower()):
                break
            raise ConsumerGone(f"{self.stream}: {status} {description}")
        if out:
            self.after = out[-1].seq
        return out
