"""A write's request log line and metrics name its route, not "unmatched": the write guard
keeps the request's scope, where the router names the route."""

from __future__ import annotations

import json

import httpx

from baton_shared.observability import metrics

TOKEN = "route-label-token-0000"


def _counted(service: str, method: str, route: str) -> float:
    """Requests counted so far under this label (the registry is the process's: other tests count too)."""
    return sum(
        s.value
        for m in metrics.HTTP_REQUESTS.collect()
        for s in m.samples
        if s.name.endswith("_total")
        and s.labels.get("service") == service
        and s.labels.get("method") == method
        and s.labels.get("route") == route
    )


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
    route = "/v1/notices/preferences/{kind}"
    before = _counted("notify", "PUT", route), _counted("notify", "PUT", "unmatched")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as client:
        for extra in ({}, {"Idempotency-Key": "route-label-1"}):
            r = await client.put("/v1/notices/preferences/no_kind", json={"on": False}, headers={**headers, **extra})
            assert r.status_code == 422
    assert (_counted("notify", "PUT", route), _counted("notify", "PUT", "unmatched")) == (before[0] + 2, before[1])
