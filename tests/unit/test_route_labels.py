"""A write's request log line and metrics name its route, not "unmatched": the write guard
keeps the request's scope, where the router names the route."""

from __future__ import annotations

import json

import httpx

from baton_shared.observability import metrics

TOKEN = "route-label-token-0000"


def _labels(service: str, method: str) -> set[str]:
    return {
        s.labels["route"]
        for m in metrics.HTTP_REQUESTS.collect()
        for s in m.samples
        if s.labels.get("service") == service and s.labels.get("method") == method
    }


async def test_a_write_is_counted_under_its_route(tmp_path):
    from baton_notify.composition import create_app
    from baton_notify.settings import NotifySettings

    settings = NotifySettings(
        nats_url="nats://127.0.0.1:1",
        data_dir=tmp_path,
        database_url="sqlite+aiosqlite://",
        log_level="WARNING",
        tokens=json.dumps([{"name": "a", "role": "admin", "token": TOKEN}]),
    )
    app = create_app(settings, run_deliveries=False)  # not started: a refused body never reaches the log
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as client:
        for extra in ({}, {"Idempotency-Key": "route-label-1"}):
            r = await client.put("/v1/notices/preferences/no_kind", json={"on": False}, headers={**headers, **extra})
            assert r.status_code == 422
    assert "/v1/notices/preferences/{kind}" in _labels("notify", "PUT")
    assert "unmatched" not in _labels("notify", "PUT")
