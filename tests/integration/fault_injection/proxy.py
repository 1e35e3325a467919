"""A loopback TCP proxy in front of PostgreSQL that the fault test can cut.

Services connect to the proxy's port instead of PostgreSQL's. ``cut()`` resets every
connection through it and, until ``restore()``, resets every new one as soon as it is
accepted: to the services the database is gone (connections drop, reconnects fail), as
when PostgreSQL restarts or a network path dies. ``stall()`` is the quieter failure: no
byte passes either way and new connections are accepted but go nowhere, with no reset,
as when packets are dropped on the way; ``restore()`` lets what was held through. The proxy runs its own event loop in a
thread, so the test's loop (which drives the load) never waits on it.
"""

from __future__ import annotations

import asyncio
import threading

from tests.conftest import free_port


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.down = False
        self.connections_reset = 0
        self.refused_while_down = 0
        self._open: set[asyncio.Transport] = set()
        self._flowing: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """From now on the database is unreachable through the proxy."""
        self._call(self._cut())

    def stall(self) -> None:
        """From now on nothing passes (and nothing is reset) until ``restore()``."""
        self._call(self._set_flowing(False))

    def restore(self) -> None:
        self.down = False
        self._call(self._set_flowing(True))

    async def _set_flowing(self, flowing: bool) -> None:
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coro) -> object:  # noqa: ANN001
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        self.down = True
        for transport in list(self._open):
            transport.abort()
            self.connections_reset += 1
        self._open.clear()

    async def _close(self) -> None:
        await self._cut()
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.refused_while_down += 1
            writer.transport.abort()
            return
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer.transport, up_writer.transport)
        self._open.update(pair)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, self._flowing), self._pipe(up_reader, writer, self._flowing)
            )
        finally:
            for transport in pair:
                self._open.discard(transport)
                transport.abort()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
        try:
            while data := await source.read(65536):
                await flowing.wait()
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
