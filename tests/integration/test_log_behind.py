"""A load a replica kept answering behind its leader (``LogBehind``, the store's last word after
its retries; ``test_event_store_cluster.py`` makes replicas lag for real): the write answers 503
``log-behind``, decides nothing, appends nothing, and the same request succeeds once it reads."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from baton_shared.eventstore import LogBehind
from baton_shared.service.settings import BatonSettings

from tests.integration.services import ADMIN, TEST_TOKENS

pytestmark = pytest.mark.nats


async def test_a_load_that_stayed_behind_answers_503_log_behind_and_appends_nothing(nats, nats_url, tmp_path):
    from baton_intake.composition import create_app

    app = create_app(
        BatonSettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=TEST_TOKENS,
        )
    )
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN) as intake,
    ):
        created = await intake.post(
            "/v1/clients", json={"name": "Lag Ltd", "segment": "B2B", "account_manager": "alice"}
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["ids"]["client_id"]
        store = app.state.runtime.store

        async def behind(aggregate_type: str, aggregate_id: str):
            raise LogBehind(f"the replica reading {aggregate_type} {aggregate_id} stayed behind its leader")

        note = {"text": "called back"}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(store, "history", behind)
            patch.setattr(store, "remembered_history", behind)
            refused = await intake.post(f"/v1/clients/{client_id}/notes", json=note)
        assert refused.status_code == 503, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:baton:problem:log-behind" and refused.headers["Retry-After"] == "1"
        assert "nothing was appended" in problem["detail"]
        assert [e.envelope.event_type for e in (await store.history("client", client_id)).events] == [
            "ClientRegistered"
        ]
        again = await intake.post(f"/v1/clients/{client_id}/notes", json=note)
        assert again.status_code == 201, again.text
