"""Delivery killed with SIGKILL mid-stream and restarted: no gaps, no duplicates."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import date, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from baton_shared.eventstore.provisioning import js_api
from baton_shared.eventstore.reader import read_stream
from baton_shared.service.settings import BatonSettings
from baton_intake.composition import create_app as create_intake
from tests.conftest import free_port
from tests.integration.services import ADMIN, TEST_TOKENS, eventually

pytestmark = [pytest.mark.nats, pytest.mark.slow]
REQUESTS = 60  # two departments each: 120 handoffs


def start_delivery(nats_url: str, database_url: str, port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "BATON_NATS_URL": nats_url,
        "BATON_DATABASE_URL": database_url,
        "BATON_HTTP_PORT": str(port),
        "BATON_LOG_LEVEL": "WARNING",
        "BATON_TOKENS": TEST_TOKENS,
    }
    return subprocess.Popen([sys.executable, "-m", "baton_delivery"], env=env, stdout=log, stderr=subprocess.STDOUT)


def get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=ADMIN), timeout=2) as r:
            return json.load(r)
    except Exception:  # noqa: BLE001 - not up (yet)
        return None


async def opened(nats) -> list:
    out = []
    try:
        async for batch in read_stream(nats, "DELIVERY"):
            out.extend(json.loads(raw.data) for raw in batch)
    except Exception:  # noqa: BLE001 - stream not created yet
        return []
    return [e for e in out if e["event_type"] == "WorkOrderOpened"]


async def test_delivery_killed_mid_stream_resumes_without_gaps_or_duplicates(nats, nats_url, database_url, tmp_path):
    port = free_port()
    log = open(tmp_path / "delivery.log", "ab")  # noqa: SIM115
    delivery = start_delivery(nats_url, database_url, port, log)
    intake_app = create_intake(
        BatonSettings(
            nats_url=nats_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
            log_level="WARNING",
            tokens=TEST_TOKENS,
        )
    )
    handoff_ids: list[str] = []
    try:
        await eventually(lambda: _health(port), timeout=30, what="delivery up")
        async with LifespanManager(intake_app, startup_timeout=30, shutdown_timeout=30):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=intake_app), base_url="http://intake", headers=ADMIN
            ) as api:
                due = (date.today() + timedelta(days=20)).isoformat()

                async def write(n: int) -> None:
                    c = await api.post(
                        "/v1/clients", json={"name": f"C{n}", "segment": "B2B", "account_manager": "alice"}
                    )
                    r = await api.post(f"/v1/clients/{c.json()['ids']['client_id']}/requests", json={"summary": "x"})
                    h = await api.post(
                        f"/v1/requests/{r.json()['ids']['request_id']}/handoffs",
                        json={
                            "work": [{"department": d, "scope": "s", "due_by": due} for d in ("design", "production")]
                        },
                    )
                    assert h.status_code == 201, h.text
                    handoff_ids.extend(h.json()["ids"]["handoff_ids"])

                async def write_all() -> None:
                    for n in range(REQUESTS):
                        await write(n)

                writer = asyncio.create_task(write_all())
                # Kill delivery while handoffs keep arriving and it is working through them.
                await eventually(lambda: _at_least(nats, 10), what="delivery under way")
                delivery.send_signal(signal.SIGKILL)
                delivery.wait(10)
                killed_at = len(await opened(nats))
                await writer
                assert killed_at < len(handoff_ids), "the kill came after delivery had caught up"
                delivery = start_delivery(nats_url, database_url, port, log)
                await eventually(lambda: _health(port), timeout=30, what="delivery back")
                await eventually(lambda: _at_least(nats, len(handoff_ids)), timeout=60, what="every handoff opened")

                async def listed():
                    page = get(f"http://127.0.0.1:{port}/v1/work-orders?limit=1")
                    return page if page and page["total"] == len(handoff_ids) else None

                await eventually(listed, timeout=30, what="every work order readable")
                info = await js_api(nats, "CONSUMER.INFO.INTAKE.delivery_react_intake_requests")
                assert info["num_pending"] == 0
    finally:
        if delivery.poll() is None:
            delivery.send_signal(signal.SIGTERM)
            delivery.wait(20)
        log.close()
    events = await opened(nats)
    ids = [e["payload"]["work_order_id"] for e in events]
    assert len(ids) == len(handoff_ids) == REQUESTS * 2  # nothing missing, nothing twice
    assert set(ids) == set(handoff_ids)


async def _health(port: int):
    body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/health")
    return body if body and body["status"] == "ok" else None


async def _at_least(nats, n: int):
    return len(await opened(nats)) >= n
