"""The parts of a Baton operation, each with a bare library: a request, an append, a delivery, a
transaction; CPU per operation of the process doing it (and of nats-server). Used by ``floor.py``."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from pydantic import BaseModel, Field

from common import cpu_seconds, free_port, stop_process
from loadgen import Connection

EVENT = orjson.dumps(
    {
        "event_id": str(uuid.uuid4()),
        "type": "NoteAdded",
        "schema_version": 1,
        "occurred_at": "2026-12-06T09:00:00+00:00",
        "actor": "alice",
        "correlation_id": str(uuid.uuid4()),
        "causation_id": None,
        "data": {"client_id": "c-1", "note": "called about the second site", "percent": 40},
    }
)


# --- the request ---------------------------------------------------------------------------


async def bare_asgi(scope, receive, send) -> None:  # noqa: ANN001
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    note = orjson.loads(body)
    answer = orjson.dumps({"ids": {"note_id": str(uuid.uuid4())}, "position": len(note)})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class Note(BaseModel):
    note: str = Field(min_length=1, max_length=2000)
    percent: int = Field(ge=0, le=100)


class Written(BaseModel):
    ids: dict[str, str]
    position: int


def fastapi_app():  # noqa: ANN201
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/orders/{order_id}/note", status_code=201, response_model=Written)
    async def note(order_id: str, body: Note) -> Written:
        return Written(ids={"note_id": str(uuid.uuid4()), "order_id": order_id}, position=body.percent)

    return app


def serve(kind: str, port: int) -> None:
    import uvicorn

    app = bare_asgi if kind == "asgi" else fastapi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def requests(kind: str, n: int, concurrency: int = 16) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port)])
    try:
        connections = [Connection("127.0.0.1", port) for _ in range(concurrency)]
        deadline = time.monotonic() + 30
        while True:
            try:
                await connections[0].request("POST", "/v1/orders/o-1/note", {"note": "x", "percent": 1})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

        async def worker(conn: Connection, count: int) -> None:
            for _ in range(count):
                status, _ = await conn.request("POST", "/v1/orders/o-1/note", {"note": "hello", "percent": 40})
                assert status == 201, status

        await asyncio.gather(*(worker(c, 200) for c in connections))  # warm-up
        before = cpu_seconds(proc.pid)
        await asyncio.gather(*(worker(c, n // concurrency) for c in connections))
        return (cpu_seconds(proc.pid) - before) / (n // concurrency * concurrency)
    finally:
        for c in connections:
            c.close()
        stop_process(proc)


# --- the append and the delivery -------------------------------------------------------------


async def appends(nc, server_pid: int, n: int, concurrency: int = 16) -> tuple[float, float]:  # noqa: ANN001
    js = nc.jetstream()
    await js.add_stream(name="FLOOR", subjects=["floor.>"])

    async def aggregate(k: int, count: int) -> None:
        last = 0
        for _ in range(count):
            subject = f"floor.note.{k}-{count}.NoteAdded"
            headers = {
                "Nats-Msg-Id": str(uuid.uuid4()),
                "Nats-Expected-Last-Subject-Sequence": str(last),
            }
            ack = await js.publish(subject, EVENT, headers=headers)
            last = ack.seq

    await asyncio.gather(*(aggregate(k, 100) for k in range(concurrency)))  # warm-up
    per = n // concurrency
    client, server = time.process_time(), cpu_seconds(server_pid)
    await asyncio.gather(*(aggregate(k, per) for k in range(concurrency)))
    done = per * concurrency
    return (time.process_time() - client) / done, (cpu_seconds(server_pid) - server) / done


def consume(url: str) -> None:
    """A pull consumer that acknowledges what it gets, one pull request in flight (like Baton's)."""
    import nats

    async def run() -> None:
        nc = await nats.connect(url)
        inbox = nc.new_inbox()
        arrived: asyncio.Queue = asyncio.Queue()
        await nc.subscribe(inbox, cb=arrived.put)
        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        pull = orjson.dumps({"batch": 500, "expires": 5_000_000_000})
        remaining = 0
        while not stopping.is_set():
            if remaining <= 0:
                await nc.publish("$JS.API.CONSUMER.MSG.NEXT.FLOOR.floor_delivery", pull, reply=inbox)
                remaining = 500
            try:
                msg = await asyncio.wait_for(arrived.get(), 0.5)
            except TimeoutError:
                continue
            if msg.reply:
                remaining -= 1
                orjson.loads(msg.data)
                await msg.ack()
            else:
                remaining = 0  # a status: the request is over
        await nc.drain()

    asyncio.run(run())


async def deliveries(
    nc, url: str, server_pid: int, n: int, append_server: float, rate: float = 500
) -> tuple[float, float]:  # noqa: ANN001
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    js = nc.jetstream()
    await js.add_consumer(
        "FLOOR",
        ConsumerConfig(
            durable_name="floor_delivery",
            filter_subject="floor.delivered.>",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
        ),
    )
    proc = subprocess.Popen([sys.executable, __file__, "--consume", url])
    try:
        for _ in range(200):  # warm-up, and the consumer's start
            await js.publish("floor.delivered.x", EVENT)
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(1.0)
        consumer, server = cpu_seconds(proc.pid), cpu_seconds(server_pid)
        start = time.perf_counter()
        for k in range(n):
            await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            await js.publish("floor.delivered.x", EVENT)
        deadline = time.monotonic() + 30
        while (await js.consumer_info("FLOOR", "floor_delivery")).num_ack_pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        consumer_cpu = (cpu_seconds(proc.pid) - consumer) / n
        server_cpu = (cpu_seconds(server_pid) - server) / n - append_server
        return consumer_cpu, max(0.0, server_cpu)
    finally:
        proc.send_signal(signal.SIGTERM)
        stop_process(proc)


# --- the transaction ---------------------------------------------------------------------------


ROW = "INSERT INTO orders(id, body, version) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, version = excluded.version"
CHECKPOINT = "UPDATE checkpoints SET position = ? WHERE projection = ?"


def sqlite_file(folder: Path) -> Path:
    path = folder / "floor.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE orders(id TEXT PRIMARY KEY, body TEXT NOT NULL, version INTEGER NOT NULL);"
        "CREATE TABLE checkpoints(projection TEXT PRIMARY KEY, position INTEGER NOT NULL);"
        "INSERT INTO checkpoints VALUES ('orders', 0);"
    )
    db.close()
    return path


def sqlite_transactions(path: Path, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")
    body = EVENT.decode()
    started = time.process_time()
    for k in range(n):
        db.execute("BEGIN")
        db.execute(ROW, (f"o-{k % 500}", body, k))
        db.execute(CHECKPOINT, (k, "orders"))
        db.execute("COMMIT")
    took = (time.process_time() - started) / n
    db.close()
    return took


def sqlalchemy_transactions(path: Path, n: int) -> float:
    from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, event, update
    from sqlalchemy.dialects.sqlite import insert

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    meta = MetaData()
    orders = Table(
        "orders", meta, Column("id", Text, primary_key=True), Column("body", Text), Column("version", Integer)
    )
    checkpoints = Table("checkpoints", meta, Column("projection", Text, primary_key=True), Column("position", Integer))
    row = insert(orders)
    row = row.on_conflict_do_update(
        index_elements=[orders.c.id], set_={"body": row.excluded.body, "version": row.excluded.version}
    )
    advance = update(checkpoints).where(checkpoints.c.projection == "orders")
    body = EVENT.decode()
    with engine.connect() as conn:
        started = time.process_time()
        for k in range(n):
            with conn.begin():
                conn.execute(row, {"id": f"o-{k % 500}", "body": body, "version": k})
                conn.execute(advance, {"position": k})
        took = (time.process_time() - started) / n
    engine.dispose()
    return took


async def asyncpg_transactions(url: str, n: int) -> float:
    import asyncpg

    db = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await db.execute(
            "DROP TABLE IF EXISTS floor_orders, floor_checkpoints;"
            "CREATE TABLE floor_orders(id TEXT PRIMARY KEY, body TEXT NOT NULL, version INTEGER NOT NULL);"
            "CREATE TABLE floor_checkpoints(projection TEXT PRIMARY KEY, position INTEGER NOT NULL);"
            "INSERT INTO floor_checkpoints VALUES ('orders', 0);"
        )
        row = ROW.replace("orders(", "floor_orders(").replace("?", "${}").format(1, 2, 3)
        advance = "UPDATE floor_checkpoints SET position = $1 WHERE projection = $2"
        body = EVENT.decode()
        started = time.process_time()
        for k in range(n):
            async with db.transaction():
                await db.execute("SET LOCAL synchronous_commit = off")
                await db.execute(row, f"o-{k % 500}", body, k)
                await db.execute(advance, k, "orders")
        took = (time.process_time() - started) / n
        await db.execute("DROP TABLE floor_orders, floor_checkpoints")
        return took
    finally:
        await db.close()


async def measure(url: str, server_pid: int, folder: Path, n: int, postgresql: str | None = None) -> dict:
    """Each part alone: {name: (CPU of its process, of nats-server)} in seconds per operation."""
    import nats

    took = {
        "request, bare ASGI": (await requests("asgi", n), 0.0),
        "request, FastAPI route": (await requests("fastapi", n), 0.0),
    }
    nc = await nats.connect(url)
    try:
        took["append"] = await appends(nc, server_pid, n)
        took["delivery, one at a time (500/s)"] = await deliveries(nc, url, server_pid, n // 2, took["append"][1])
    finally:
        await nc.close()
    path = sqlite_file(folder)
    took["transaction, SQLite via sqlite3"] = (sqlite_transactions(path, n), 0.0)
    took["transaction, SQLite via SQLAlchemy Core"] = (sqlalchemy_transactions(path, n), 0.0)
    if postgresql:
        took["transaction, PostgreSQL via asyncpg"] = (await asyncpg_transactions(postgresql, n), 0.0)
    return took


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "--consume":
        consume(sys.argv[2])
