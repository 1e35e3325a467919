"""A running service never shows its secrets: not in its log (at DEBUG), not in /health,
not in the documents it serves without a token."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest
from asgi_lifespan import LifespanManager
from baton_shared.service.settings import BatonSettings, with_password

from tests.integration.deployed import fresh_database, map_database

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


async def test_no_secret_reaches_the_log_health_or_the_open_documents(nats_url, postgres_url, tmp_path, capsys):
    from baton_intake.composition import create_app

    nats_password = secrets.token_hex(16)  # in the URL, as some deployments give it
    db_password = secrets.token_hex(16)
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    token = secrets.token_urlsafe(24)
    database = map_database("postgresql+asyncpg://intake@postgres:5432/secrets", postgres_url)
    await fresh_database(database)
    settings = BatonSettings(
        nats_url=nats_url.replace("nats://", f"nats://intake:{nats_password}@"),
        database_url=database,
        database_password=db_password,  # PostgreSQL trusts the test's connections: any password will do
        master_key=master_key,
        tokens=json.dumps([{"name": "admin", "role": "admin", "token": token}]),
        data_dir=tmp_path,
        log_level="DEBUG",
        log_format="json",
    )
    app = create_app(settings)
    shown = [repr(settings)]
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://intake",
            headers={"Authorization": f"Bearer {token}"},
        ) as api,
    ):
        created = await api.post(
            "/v1/clients",
            json={
                "name": "Quiet Ltd",
                "segment": "B2B",
                "account_manager": "alice",
                "contacts": [{"name": "Ada", "email": "ada@quiet.example"}],
            },
        )
        assert created.status_code == 201, created.text
        seen = await api.get(
            f"/v1/clients/{created.json()['ids']['client_id']}",
            params={"min_position": created.json()["position"]["seq"]},
        )
        assert seen.status_code == 200 and seen.json()["contacts"][0]["email"] == "ada@quiet.example"
        bad = await api.get("/v1/clients", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401
        for path in ("/health", "/asyncapi.json", "/openapi.json"):
            answer = await api.get(path)
            assert answer.status_code == 200, (path, answer.text)
            shown.append(answer.text)
    logged = capsys.readouterr()
    shown += [logged.out, logged.err]
    assert '"service started"' in logged.err or "service started" in logged.out + logged.err  # the log was captured
    for name, secret in {
        "NATS password": nats_password,
        "database password": db_password,
        "master key": master_key,
        "API token": token,
        "database URL": with_password(database, db_password),
    }.items():
        assert not [text for text in shown if secret in text], f"the {name} was shown"
