"""A PostgreSQL that stops answering without closing anything (packets dropped on the
way: no reset, no refusal), through the fault test's proxy in ``stall`` mode.

Without bounds a service would wait on it until TCP gives up (many minutes): health
checks hung, reads hung. Now: ``/health`` says 503 within its 2 s question, writes
(which go to the log, not the database) are still acknowledged, a read that needs the
database answers 503 within ``database_timeout_seconds``, and once the database answers
again the projections catch up and the write is readable.
"""

from __future__ import annotations

import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from baton_shared.service.settings import BatonSettings
from tests.conftest import _fresh_schema
from tests.integration.fault_injection.proxy import TcpProxy
from tests.integration.services import ADMIN, TEST_TOKENS, eventually

pytestmark = [pytest.mark.nats, pytest.mark.postgres]
TIMEOUT = 2.0


async def test_a_stalled_database_is_reported_reads_answer_503_and_writes_go_on(nats, nats_url, postgres_url, tmp_path):
    from baton_intake.composition import create_app

    await _fresh_schema(postgres_url)
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        settings = BatonSettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            tokens=TEST_TOKENS,
            log_level="WARNING",
            database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            database_timeout_seconds=TIMEOUT,
        )
        app = create_app(settings)
        async with (
            LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN, timeout=30
            ) as api,
        ):
            assert (await api.get("/health")).status_code == 200
            proxy.stall()

            started = time.monotonic()
            health = await api.get("/health")
            assert health.status_code == 503 and health.json()["database"]["ok"] is False
            assert time.monotonic() - started < 3, "the health check waited on the database"

            written = await api.post("/v1/clients", json={"name": "Acme", "segment": "B2B", "account_manager": "alice"})
            assert written.status_code == 201, written.text  # the log took it
            client_id, seq = written.json()["ids"]["client_id"], written.json()["position"]["seq"]

            started = time.monotonic()
            read = await api.get("/v1/clients", params={"limit": 5})
            assert read.status_code == 503, read.text
            assert "database" in read.json()["detail"].lower()
            assert time.monotonic() - started < 3 * TIMEOUT + 2

            proxy.restore()

            async def readable():
                r = await api.get(f"/v1/clients/{client_id}", params={"min_position": seq})
                return r.status_code == 200 and r.json()["name"] == "Acme"

            await eventually(readable, timeout=30, what="the client readable once the database answers")
            assert (await api.get("/health")).status_code == 200
    finally:
        proxy.stop()
