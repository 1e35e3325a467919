"""Each service's OpenAPI document holds under schemathesis's own checks (``--checks all``).

All three services run in this test's loop on a real broker (``all_three``) and are
served over HTTP on free ports; the ``schemathesis`` command runs every phase
(examples, coverage, fuzzing, stateful) with every check against one service's
document: no 5xx, every status and body as documented (problem details for errors),
schema-valid input accepted, invalid input rejected, headers and methods as
documented, authentication enforced. Path and query ids are drawn half of the time
from things that exist (a seeded client, request, work orders, program...), so the
cases reach the aggregates and not only the 404s. The seed is fixed, the number of
examples per operation bounded (``BATON_FUZZ_EXAMPLES``, default 15); the summary is
printed (``-s`` shows it) and a JUnit report written (to ``BATON_FUZZ_REPORT_DIR`` if set):

    CI=true BATON_TEST_DATABASE_URL=... python -m pytest -q -s -p no:logging tests/integration/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import import_or_fail_in_ci
from tests.integration.services import TOKENS, all_three, eventually

schemathesis = import_or_fail_in_ci("schemathesis")  # skipped without it, except in CI

pytestmark = pytest.mark.nats
EXAMPLES = int(os.environ.get("BATON_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("BATON_FUZZ_SEED", "20261202"))
_WELL_FORMED_KEY = re.compile(rb"[!-~]{1,200}")


def schemathesis_command() -> str:
    """The ``schemathesis`` command of this environment; a missing one fails under CI."""
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("schemathesis is not installed (the dev extra); CI=true needs it")
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    return found


async def seed(svc) -> dict[str, list[str]]:
    """Things that exist, for path parameters: a client with a request handed to two departments."""
    r = await svc.intake.post(
        "/v1/clients", json={"name": "Fuzz", "segment": "B2B", "account_manager": "alice", "annual_revenue": "50000"}
    )
    assert r.status_code == 201, r.text
    cid = r.json()["ids"]["client_id"]
    rid = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "a house"})).json()["ids"][
        "request_id"
    ]
    due = (svc.clock.now.date() + timedelta(days=30)).isoformat()
    work = {
        "work": [
            {"department": "design", "scope": "plans", "due_by": due},
            {"department": "build", "scope": "walls", "due_by": due},
        ]
    }
    r = await svc.intake.post(f"/v1/requests/{rid}/handoffs", json=work)
    assert r.status_code == 201, r.text
    wos = r.json()["ids"]["handoff_ids"]

    async def ready(url_client, url):
        r = await url_client.get(url)
        return r.status_code == 200 and r.json()

    await eventually(lambda: ready(svc.delivery, f"/v1/work-orders/{wos[1]}"), what="work orders")
    await eventually(lambda: ready(svc.followup, f"/v1/clients/{cid}"), what="relationship")
    r = await svc.followup.post(f"/v1/clients/{cid}/programs", json={"name": "care"})
    assert r.status_code == 201, r.text
    program = r.json()["ids"]["program_id"]
    r = await svc.followup.post(f"/v1/clients/{cid}/satisfaction", json={"score": 1, "comment": "unhappy"})
    assert r.status_code == 201, r.text
    brief = (
        await svc.followup.get(f"/v1/clients/{cid}/brief", params={"min_position": r.json()["position"]["seq"]})
    ).json()
    follow_ups = [f["follow_up_id"] for f in brief.get("promises_due", [])]
    recoveries = [x["recovery_id"] for x in brief.get("recoveries", [])]
    return {
        "client_id": [cid],
        "request_id": [rid],
        "work_order_id": wos,
        "department": ["design", "build"],
        "program_id": [program],
        "follow_up_id": follow_ups or [program],
        "opportunity_id": [program],
        "recovery_id": recoveries or [program],
    }


def config_file(path: Path, known: dict[str, list[str]]) -> Path:
    """schemathesis.toml: the seed, the bound, and ids that exist for half of the cases."""
    lines = [
        f"seed = {SEED}",
        "request-timeout = 30",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        "[phases.stateful]",
        "max-steps = 6",
        # A body over BATON_MAX_BODY_BYTES is refused with 413, whatever its schema says
        # (documented on every write): a rejection of invalid data, and a refusal a
        # schema-valid body can meet. The defaults, plus 413.
        "[checks.negative_data_rejection]",
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]',
        "[checks.positive_data_acceptance]",
        'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]',
        "[parameters]",
    ]
    for name in known:
        for where in ("path", "query"):
            lines.append(f'"{where}.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def fresh_idempotency_keys(app):
    """``app`` with every well-formed ``Idempotency-Key`` replaced by a fresh one.

    The fuzzer draws keys from a few short strings (``0``, ``00``...), so two different
    requests share a key and the second is refused by design (422
    ``idempotency-key-reused``): a rule on the log's state that the document states in
    words but no schema can, like an unknown id. ``test_idempotency.py`` tests it; a
    malformed key reaches the app as generated."""

    async def with_fresh_keys(scope, receive, send):
        if scope["type"] == "http":
            headers = [
                (
                    name,
                    uuid.uuid4().hex.encode()
                    if name == b"idempotency-key" and _WELL_FORMED_KEY.fullmatch(value)
                    else value,
                )
                for name, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return with_fresh_keys


async def serve(app):
    """Serve ``app`` (already started by its lifespan) over HTTP on a free port of 127.0.0.1."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(fresh_idempotency_keys(app), lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: asyncio.sleep(0, server.started), what="HTTP server")
    return server, task, sock.getsockname()[1]


@pytest.mark.parametrize("service", ["intake", "delivery", "followup"])
async def test_the_openapi_document_holds_under_all_of_schemathesis_checks(
    service, nats, nats_url, postgres_url, tmp_path
):
    from tests.conftest import _fresh_schema

    command = schemathesis_command()
    await _fresh_schema(postgres_url)  # follow-up on PostgreSQL, the others on SQLite
    async with all_three(nats_url, postgres_url, tmp_path) as svc:
        known = await seed(svc)
        server, task, port = await serve(svc.apps[service])
        report = Path(os.environ.get("BATON_FUZZ_REPORT_DIR") or tmp_path) / f"schemathesis-{service}"
        try:
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                command,
                "--config-file",
                str(config_file(tmp_path / "schemathesis.toml", known)),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "all",
                "--workers",
                "1",
                "--no-shrink",
                "--header",
                f"Authorization: Bearer {TOKENS['admin']['token']}",
                "--report",
                "junit",
                "--report-dir",
                str(report),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
                env={**os.environ, "NO_COLOR": "1"},
            )
            output, _ = await process.communicate()
            elapsed = time.monotonic() - started
        finally:
            server.should_exit = True
            await task
        text = output.decode("utf-8", "replace")
        print(f"\nschemathesis on {service} ({elapsed:.1f}s, exit {process.returncode}):\n{text[-6000:]}")
        assert process.returncode == 0, text[-20000:]


async def test_inputs_that_answered_500_before(nats, nats_url, postgres_url, tmp_path):
    """What fuzzing found: each was a 500 (or, for NUL in a body, an event PostgreSQL
    projections could not store). Now 422s that say what is wrong, and nothing appended."""
    from tests.conftest import _fresh_schema

    await _fresh_schema(postgres_url)
    async with all_three(nats_url, postgres_url, tmp_path) as svc:
        json_ = {"content-type": "application/json"}
        huge_float = b'{"name": "A", "segment": "B2B", "account_manager": "a", "annual_revenue": 1e400}'
        r = await svc.intake.post("/v1/clients", content=huge_float, headers=json_)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "annual_revenue"], r.text
        nul = b'{"name": "A", "segment": "B2B", "account_manager": "a", "business_description": "x\\u0000y"}'
        r = await svc.intake.post("/v1/clients", content=nul, headers=json_)
        assert r.status_code == 422 and "body.business_description contains a NUL" in r.json()["detail"], r.text
        for client, path in (
            (svc.followup, "/v1/clients/abc%00/brief"),
            (svc.followup, "/v1/agenda?account_manager=%00"),
            (svc.intake, "/v1/clients?account_manager=a%00"),
        ):
            r = await client.get(path)
            assert r.status_code == 422 and "NUL" in r.json()["detail"], (path, r.text)
        # The board's overdue list is paginated and bounded like every list.
        assert (await svc.delivery.get("/v1/departments/design/board", params={"limit": 201})).status_code == 422
        board = (await svc.delivery.get("/v1/departments/design/board", params={"limit": 1, "offset": 0})).json()
        assert board["limit"] == 1 and board["overdue_total"] == 0 and board["overdue"] == []
        names = await js_api_names(nats)
        assert "INTAKE" not in names or await stored_messages(nats, "INTAKE") == 0


async def js_api_names(nats) -> list[str]:
    from baton_shared.eventstore.provisioning import js_api

    return (await js_api(nats, "STREAM.NAMES")).get("streams") or []


async def stored_messages(nats, stream: str) -> int:
    from baton_shared.eventstore.provisioning import js_api

    return (await js_api(nats, f"STREAM.INFO.{stream}"))["state"]["messages"]
