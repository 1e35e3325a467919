"""A handoff's messages with bare libraries: the four services' share of it, none of Baton's code.

``bench/floor.py`` starts one process per role and drives handoffs through them; run alone:
``handoff_skeleton.py ROLE NATS_URL HTTP_PORT FOLDER``.

What each role does per handoff is what Baton's service does, in messages (docs/architecture.md,
*Where a handoff's CPU goes*): intake answers the POST with an append (expected last subject
sequence) and folds both events; delivery reacts to ``HandoffRequested`` with an append, folds
``WorkOrderOpened`` and answers the GET; follow-up folds both; notify reacts to
``WorkOrderOpened`` with a read. Delivery's and notify's projections of intake are delivered
client events alone, as Baton's are since they name what they fold. That is 2 requests, 2
appends, 7 deliveries and 5 transactions. Projections fold a batch in one SQLite transaction (an upsert
per event and the checkpoint) and acknowledge all within 0.25 s, as Baton's do; reactions
acknowledge each batch. Everything runs on uvloop; statements run on the loop, as Baton's SQLite
driver runs them.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import uvloop

PULL = orjson.dumps({"batch": 500, "expires": 5_000_000_000})
ROLES = ("intake", "delivery", "followup", "notify")
CLIENTS = "intake.client.>"  # what delivery's and notify's projections of intake are delivered


class Pull:
    """A durable pull consumer, one long-poll request in flight, the handler given each batch."""

    def __init__(
        self,
        nc,  # noqa: ANN001
        stream: str,
        durable: str,
        handle: Callable[[list], Awaitable[None]],
        ack_all_after: float,
        filter_subject: str | None = None,
    ) -> None:
        self.nc, self.stream, self.durable, self.handle = nc, stream, durable, handle
        self.filter_subject = filter_subject
        self.ack_all_after = ack_all_after  # 0: acknowledge each message at once (explicit)
        self.arrived: list = []
        self.wake = asyncio.Event()
        self.last_unacked = None

    async def start(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig

        policy = AckPolicy.ALL if self.ack_all_after else AckPolicy.EXPLICIT
        await self.nc.jetstream().add_consumer(
            self.stream,
            ConsumerConfig(durable_name=self.durable, ack_policy=policy, filter_subject=self.filter_subject),
        )
        self.inbox = self.nc.new_inbox()

        async def arrived(msg) -> None:  # noqa: ANN001
            self.arrived.append(msg)
            self.wake.set()

        await self.nc.subscribe(self.inbox, cb=arrived)
        asyncio.get_running_loop().create_task(self.run())
        if self.ack_all_after:
            asyncio.get_running_loop().create_task(self.ack_later())

    async def run(self) -> None:
        remaining = 0
        while True:
            if remaining <= 0:
                await self.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}", PULL, reply=self.inbox)
                remaining = 500
            if not self.arrived:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 6)
                except TimeoutError:
                    remaining = 0
                    continue
            batch = [m for m in self.arrived if m.reply]
            if len(batch) < len(self.arrived):
                remaining = 0  # a status: that request is over
            self.arrived = []
            remaining -= len(batch)
            if batch:
                await self.handle(batch)
                if self.ack_all_after:
                    self.last_unacked = batch[-1]
                else:
                    for msg in batch:
                        await msg.ack()

    async def ack_later(self) -> None:
        while True:
            await asyncio.sleep(self.ack_all_after)
            if self.last_unacked is not None:
                msg, self.last_unacked = self.last_unacked, None
                await msg.ack()


class Tables:
    """A service's SQLite file: rows by aggregate and a checkpoint per consumer."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE TABLE IF NOT EXISTS rows(id TEXT PRIMARY KEY, body TEXT NOT NULL, position INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS checkpoints(consumer TEXT PRIMARY KEY, position INTEGER NOT NULL);"
        )
        self.waiting: dict[str, asyncio.Future] = {}  # reads waiting for a row to be folded

    def projection(self, durable: str) -> Callable[[list], Awaitable[None]]:
        self.db.execute("INSERT OR IGNORE INTO checkpoints VALUES (?, 0)", (durable,))

        async def fold(batch: list) -> None:
            self.db.execute("BEGIN")
            folded = []
            for msg, event in ((m, orjson.loads(m.data)) for m in batch):
                stream, _, aggregate, _ = msg.subject.split(".")
                folded.append(f"{stream}:{aggregate}")
                self.db.execute(
                    "INSERT INTO rows VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, "
                    "position = excluded.position",
                    (folded[-1], orjson.dumps(event["data"]).decode(), msg.metadata.sequence.stream),
                )
            self.db.execute(
                "UPDATE checkpoints SET position = ? WHERE consumer = ?", (batch[-1].metadata.sequence.stream, durable)
            )
            self.db.execute("COMMIT")
            for key in folded:
                if key in self.waiting:
                    self.waiting.pop(key).set_result(None)

        return fold

    def row(self, key: str) -> bytes | None:
        found = self.db.execute("SELECT body FROM rows WHERE id = ?", (key,)).fetchone()
        return found[0].encode() if found else None

    async def row_when_folded(self, key: str, timeout: float = 5) -> bytes | None:
        """As Baton's read with ``min_position``: wait until the projection has the row."""
        found = self.row(key)
        if found is None:
            self.waiting[key] = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.waiting[key], timeout)
            found = self.row(key)
        return found


def event(kind: str, data: dict) -> bytes:
    return orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "schema_version": 1,
            "occurred_at": "2026-12-06T09:00:00+00:00",
            "actor": "alice",
            "correlation_id": str(uuid.uuid4()),
            "data": data,
        }
    )


async def append(js, subject: str, body: bytes) -> int:  # noqa: ANN001
    headers = {"Nats-Msg-Id": str(uuid.uuid4()), "Nats-Expected-Last-Subject-Sequence": "0"}
    return (await js.publish(subject, body, headers=headers)).seq


def http_app(route: Callable[[str, str, bytes], Awaitable[tuple[int, bytes]]]):  # noqa: ANN201
    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, answer = await route(scope["method"], scope["path"], body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


async def role(name: str, url: str, port: int, folder: Path) -> None:
    import nats
    import uvicorn

    nc = await nats.connect(url)
    js = nc.jetstream()
    tables = Tables(folder / f"{name}.sqlite3")
    pulls = [
        Pull(nc, "INTAKE", f"{name}_projections_intake", tables.projection(f"{name}_intake"), 0.25),
        Pull(nc, "DELIVERY", f"{name}_projections_delivery", tables.projection(f"{name}_delivery"), 0.25),
    ]
    route = None
    if name == "intake":

        async def route(method: str, path: str, body: bytes) -> tuple[int, bytes]:
            request_id = path.split("/")[3]
            work = orjson.loads(body)["work"]
            await append(
                js,
                f"intake.request.{request_id}.HandoffRequested",
                event("HandoffRequested", {"request_id": request_id, "work": work}),
            )
            return 201, orjson.dumps({"ids": {"handoff_ids": [request_id]}})

    elif name == "delivery":
        # Baton's delivery folds intake's client events alone, and is delivered nothing else.
        pulls[0] = Pull(
            nc, "INTAKE", "delivery_projections_intake", tables.projection("delivery_intake"), 0.25, CLIENTS
        )

        async def react(batch: list) -> None:
            for msg in batch:
                if msg.subject.endswith(".HandoffRequested"):
                    request_id = msg.subject.split(".")[2]
                    await append(
                        js,
                        f"delivery.request.{request_id}.WorkOrderOpened",
                        event("WorkOrderOpened", orjson.loads(msg.data)["data"]),
                    )

        async def route(method: str, path: str, body: bytes) -> tuple[int, bytes]:
            row = await tables.row_when_folded(f"delivery:{path.split('/')[3]}")
            return (200, row) if row is not None else (404, b"{}")

        pulls.append(Pull(nc, "INTAKE", "delivery_reactions_intake", react, 0))
    elif name == "notify":
        pulls[0] = Pull(nc, "INTAKE", "notify_projections_intake", tables.projection("notify_intake"), 0.25, CLIENTS)

        async def tell(batch: list) -> None:
            for msg in batch:
                tables.row(f"intake:{orjson.loads(msg.data)['data']['request_id']}")  # whom to tell: nobody here

        pulls[1] = Pull(nc, "DELIVERY", "notify_reactions_delivery", tell, 0)
    for pull in pulls:
        await pull.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    if route is None:
        await stopping.wait()
        return
    server = uvicorn.Server(
        uvicorn.Config(
            http_app(route),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            http="httptools",
            lifespan="off",
        )
    )
    serving = asyncio.get_running_loop().create_task(server.serve())
    await stopping.wait()
    server.should_exit = True
    await serving


async def streams(nc) -> None:  # noqa: ANN001
    js = nc.jetstream()
    await js.add_stream(name="INTAKE", subjects=["intake.>"])
    await js.add_stream(name="DELIVERY", subjects=["delivery.>"])


if __name__ == "__main__":
    uvloop.run(role(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))
