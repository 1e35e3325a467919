"""A forget whose record of forgotten clients cannot be written (a full disk, a lost volume):
503 ``forgetting-unavailable``, nothing destroyed and nothing appended; asked again once the
record can be written, it forgets."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from baton_shared.service.settings import BatonSettings

from tests.integration.services import ADMIN, TEST_TOKENS

pytestmark = pytest.mark.nats
EMAIL = "ursula@unwritten.example"


async def test_a_forget_whose_record_cannot_be_written_answers_503_and_destroys_nothing(nats, nats_url, tmp_path):
    from baton_intake.composition import create_app

    record = tmp_path / "forgotten"
    app = create_app(
        BatonSettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            forgotten_dir=record,
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
            "/v1/clients",
            json={
                "name": "Unwritten Ltd",
                "segment": "B2B",
                "account_manager": "alice",
                "contacts": [{"name": "Ursula", "email": EMAIL}],
            },
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["ids"]["client_id"]
        at = {"min_position": created.json()["position"]["seq"]}

        record.write_text("")  # a file where the record's folder should be: it cannot be written
        refused = await intake.delete(f"/v1/clients/{client_id}/personal-data")
        assert refused.status_code == 503, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:baton:problem:forgetting-unavailable" and refused.headers["Retry-After"]
        assert (
            "nothing was destroyed and nothing was appended" in problem["detail"]
            and str(tmp_path) not in problem["detail"]
        )
        view = (await intake.get(f"/v1/clients/{client_id}", params=at)).json()
        assert [c["email"] for c in view["contacts"]] == [EMAIL] and view["personal_data_erased_at"] is None
        history = await app.state.runtime.store.history("client", client_id)
        assert [e.envelope.event_type for e in history.events] == ["ClientRegistered"]

        record.unlink()  # the volume is back: asking again forgets
        forget = await intake.delete(f"/v1/clients/{client_id}/personal-data")
        assert forget.status_code == 200 and forget.json()["appended"] == 1, forget.text
        view = (
            await intake.get(f"/v1/clients/{client_id}", params={"min_position": forget.json()["position"]["seq"]})
        ).json()
        assert view["contacts"] == [] and (record / client_id).is_file()
