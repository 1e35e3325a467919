"""A small loopback HTTP/1.1 load generator: keep-alive connections, JSON bodies.

httpx costs about as much CPU per request as the service answering it; on a
2-core machine that would measure the client. This speaks just enough HTTP/1.1
(Content-Length bodies, keep-alive) to drive Baton's APIs for a fraction of that.
"""

from __future__ import annotations

import asyncio
import time

import orjson


# Sent with every request: the bench's admin token (see http_bench.Embedded), so the suite
# runs the same whether the services demand ``Authorization`` or not.
DEFAULT_HEADERS: dict[str, str] = {}


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, body: object | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        data = b"" if body is None else orjson.dumps(body)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        for k, v in {**DEFAULT_HEADERS, **(headers or {})}.items():
            head += f"{k}: {v}\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        status_line = await self.reader.readline()
        if not status_line:
            self.writer = None
            raise ConnectionError("connection closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    async def json(self, method: str, path: str, body: object | None = None, expect: int | None = None) -> dict:
        status, payload = await self.request(method, path, body)
        if expect is not None and status != expect:
            raise RuntimeError(f"{method} {path} -> {status}: {payload[:300]!r}")
        return orjson.loads(payload) if payload else {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def split(url: str) -> tuple[str, int]:
    hostport = url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80)


class Done(Exception):
    """The measuring window is over."""


async def closed_loop(url: str, concurrency: int, seconds: float, script, warmup: float = 1.0) -> dict:
    """``concurrency`` connections, each running ``script(i, call)`` for ``warmup`` + ``seconds``.

    ``script`` issues its requests through ``await call(method, path, body, expect)``
    (returns the decoded JSON answer) back to back; requests that start inside the
    measuring window are timed; an unexpected status is counted as an error. ``call``
    raises ``Done`` when the time is up."""
    host, port = split(url)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    sample: list[str] = []
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker(i: int) -> None:
        conn = Connection(host, port)

        async def call(method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
            now = time.perf_counter()
            if now >= stop_at:
                raise Done
            status, payload = await conn.request(method, path, body)
            done = time.perf_counter()
            if status != expect:
                errors[status] = errors.get(status, 0) + 1
                if len(sample) < 3:
                    sample.append(f"{method} {path} -> {status} {payload[:200]!r}")
                raise RuntimeError(f"{method} {path} -> {status}")
            if now >= measure_from:
                latencies.append((done - now) * 1000)
            return orjson.loads(payload) if payload else {}

        try:
            while True:
                try:
                    await script(i, call)
                except RuntimeError:
                    continue  # counted; the script starts over
        except Done:
            pass
        finally:
            conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return {"latencies": latencies, "seconds": seconds, "errors": errors, "error_samples": sample}
