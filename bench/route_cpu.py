"""CPU per write through the whole Baton app stack, in-process (no sockets): the order-note route of
tests/unit/test_compiled_routes.py (token, access rule, application, actor, causation, JSON body,
response model), compiled and through FastAPI. Run from the repository root:
`.venv/bin/python bench/route_cpu.py [N]`."""

import asyncio
import json
import logging
import sys
import time

import fastapi
import structlog

sys.path.insert(0, ".")
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
from common import http_scope  # noqa: E402
from tests.unit.test_compiled_routes import ADMIN, baton_app  # after the path and the log level  # noqa: E402

BODY = json.dumps({"note": "hello", "percent": 40}).encode()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"authorization", ADMIN["Authorization"].encode()),
    (b"content-length", str(len(BODY)).encode()),
    (b"host", b"t"),
]


async def one(app) -> int:
    scope = http_scope("POST", "/v1/orders/design-1/note", HEADERS)
    sent = False
    status = []

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def main(n: int) -> None:
    for compiled in (True, False):
        app = baton_app(compiled)
        assert await one(app) == 201
        for _ in range(200):
            await one(app)
        best = []
        for _ in range(5):
            t = time.process_time()
            for _ in range(n):
                await one(app)
            best.append((time.process_time() - t) / n * 1e6)
        print(f"fastapi {fastapi.__version__} compiled={compiled}: {min(best):.0f} us CPU per write (best of 5 x {n})")


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
