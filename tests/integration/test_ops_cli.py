"""The `baton` ops tool against a real broker and the services' real databases."""

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import nats as nats_py
import orjson
import pytest
from typer.testing import CliRunner

from baton_ops.cli import app
from tests.conftest import delete_streams
from tests.integration.services import WallClock, eventually, intake_and_delivery

pytestmark = pytest.mark.nats


async def _clean(nats_url: str) -> None:
    nc = await nats_py.connect(nats_url)
    await delete_streams(nc)  # a plain delete can leave the old messages to the next stream
    await nc.close()


async def _journey(nats_url: str, tmp_path) -> dict:
    delivery_db = f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}"
    async with intake_and_delivery(nats_url, delivery_db, tmp_path, clock=WallClock()) as svc:
        c = await svc.intake.post("/v1/clients", json={"name": "Traced", "segment": "B2B", "account_manager": "alice"})
        cid = c.json()["ids"]["client_id"]
        r = await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "a house"})
        rid = r.json()["ids"]["request_id"]
        due = (date.today() + timedelta(days=10)).isoformat()
        h = await svc.intake.post(
            f"/v1/requests/{rid}/handoffs", json={"work": [{"department": "design", "scope": "plans", "due_by": due}]}
        )
        wo = h.json()["ids"]["handoff_ids"][0]

        async def opened():
            return (await svc.delivery.get(f"/v1/work-orders/{wo}")).status_code == 200

        await eventually(opened, what="work order")
        a = await svc.delivery.post(f"/v1/work-orders/{wo}/accept", json={"member": "bob"})
        assert a.status_code == 200, a.text
        # A message no projection can read: intake's projections park it and go on.
        nc = await nats_py.connect(nats_url)
        await nc.request(f"intake.client.{cid}.ClientNoteAdded", b"{broken", timeout=2)
        await nc.close()
        last = await svc.intake.post(f"/v1/clients/{cid}/notes", json={"text": "after the bad one"})
        assert last.status_code == 201, last.text
        await svc.intake.get(f"/v1/clients/{cid}/timeline", params={"min_position": last.json()["position"]["seq"]})
        await svc.delivery.get(f"/v1/work-orders/{wo}", params={"min_position": a.json()["position"]["seq"]})

        async def intake_saw_delivery():
            view = (await svc.intake.get(f"/v1/requests/{rid}")).json()
            delivery = view.get("delivery")  # absent until intake's requests projection has the request
            return delivery and delivery["work_orders"][0]["status"] == "accepted"

        await eventually(intake_saw_delivery, what="intake seeing delivery's progress")
    return {"client": cid, "request": rid, "work_order": wo}


@pytest.fixture
def journey(nats_url, tmp_path):
    asyncio.run(_clean(nats_url))
    ids = asyncio.run(_journey(nats_url, tmp_path))
    env = {
        "BATON_NATS_URL": nats_url,
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
        "BATON_DELIVERY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}",
    }
    return ids, env


def baton(env: dict, *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def as_json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_streams(journey):
    _, env = journey
    rows = {r["service"]: r for r in as_json(baton(env, "streams", "--json"))}
    # intake: registered, need, handoff, the broken message, a note; delivery: opened, accepted
    assert rows["intake"]["messages"] == 5 and rows["delivery"]["messages"] == 2
    # one consumer per service for its projections of a stream, one per reaction
    assert {"intake_projections_intake", "delivery_projections_intake"} <= set(rows["intake"]["consumers"])
    assert "delivery_react_intake_requests" in rows["intake"]["consumers"]
    assert rows["followup"]["exists"] is False
    assert "INTAKE" in baton(env, "streams").stdout


def test_events_tail_and_show(journey):
    ids, env = journey

    def types(result) -> list[str]:
        assert result.exit_code == 0, result.output
        decoder, text, out = json.JSONDecoder(), result.stdout.strip(), []
        while text:
            event, end = decoder.raw_decode(text)
            out.append((event["envelope"] or {}).get("event_type") if not event["error"] else "UNREADABLE")
            text = text[end:].strip()
        return out

    assert types(baton(env, "events", "tail", "-n", "2", "--service", "intake", "--json")) == [
        "UNREADABLE",
        "ClientNoteAdded",
    ]
    assert types(baton(env, "events", "tail", "--type", "HandoffRequested", "--json")) == ["HandoffRequested"]
    mine = types(baton(env, "events", "tail", "--client", ids["client"], "--service", "intake", "--json"))
    # The unreadable message is on the client's own subject: it is about the client.
    assert mine == ["ClientRegistered", "NeedCaptured", "HandoffRequested", "UNREADABLE", "ClientNoteAdded"]
    everywhere = types(baton(env, "events", "tail", "--client", ids["client"], "--json"))
    assert everywhere[-3:] == ["WorkOrderAccepted", "UNREADABLE", "ClientNoteAdded"] and "WorkOrderOpened" in everywhere
    assert types(baton(env, "events", "tail", "--client", ids["client"], "--type", "NeedCaptured", "--json")) == [
        "NeedCaptured"
    ]
    assert "last events" in baton(env, "events", "tail").stdout
    shown = as_json(baton(env, "events", "show", ids["request"], "--json"))
    assert [(e["service"], e["envelope"]["event_type"]) for e in shown] == [
        ("intake", "NeedCaptured"),
        ("intake", "HandoffRequested"),
        ("delivery", "WorkOrderOpened"),
        ("delivery", "WorkOrderAccepted"),
    ]


def test_trace_links_causes_across_services(journey):
    ids, env = journey
    steps = as_json(baton(env, "trace", ids["client"], "--json"))
    types = [s["event_type"] for s in steps]
    assert types[:5] == ["ClientRegistered", "NeedCaptured", "HandoffRequested", "WorkOrderOpened", "WorkOrderAccepted"]
    opened = steps[types.index("WorkOrderOpened")]
    assert steps[opened["caused_by_step"] - 1]["event_type"] == "HandoffRequested"
    assert opened["service"] == "delivery" and opened["since_previous_s"] >= 0
    assert opened["after_cause_s"] >= 0 and steps[0]["caused_by_step"] is None
    by_request = as_json(baton(env, "trace", ids["request"], "--json"))
    assert [s["event_type"] for s in by_request][:2] == ["NeedCaptured", "HandoffRequested"]
    # Following subjects finds what reading every message finds.
    for key in (ids["client"], ids["request"]):
        assert as_json(baton(env, "trace", key, "--scan", "--json")) == as_json(baton(env, "trace", key, "--json"))
    table = baton({**env, "COLUMNS": "250"}, "trace", ids["client"]).stdout
    assert "WorkOrderOpened" in table and "#3 (+" in table  # the work order was caused by step 3, the handoff


def test_trace_asks_the_requests_projection_then_reads_only_the_log_after_it(journey, monkeypatch):
    """A client's requests come from intake's requests projection up to its checkpoint, and
    from the NeedCaptured events after it: not from every NeedCaptured in the log."""
    import sqlite3

    from baton_ops.journey import linked_ids

    ids, env = journey
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = sqlite3.connect(env["BATON_INTAKE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    (row,) = db.execute("SELECT * FROM requests WHERE request_id = ?", (ids["request"],)).fetchall()
    columns = [c[0] for c in db.execute("SELECT * FROM requests").description]
    db.execute("DELETE FROM requests WHERE request_id = ?", (ids["request"],))
    fake = dict(zip(columns, row, strict=True), request_id="only-in-the-projection")
    db.execute(f"INSERT INTO requests ({', '.join(fake)}) VALUES ({', '.join('?' * len(fake))})", list(fake.values()))
    db.commit()

    async def links() -> set[str]:
        nc = await nats_py.connect(env["BATON_NATS_URL"])
        try:
            return await linked_ids(nc, ids["client"])
        finally:
            await nc.close()

    # The checkpoint is past the NeedCaptured: the projection's rows alone answer.
    assert asyncio.run(links()) == {"only-in-the-projection"}
    # Back to before it: the event after the checkpoint is read from the log.
    db.execute("UPDATE baton_checkpoints SET last_seq = 0 WHERE projection = 'intake.requests'")
    db.commit()
    db.close()
    assert asyncio.run(links()) == {"only-in-the-projection", ids["request"]}
    # No database to ask: every NeedCaptured is read, as before.
    monkeypatch.setenv("BATON_INTAKE_DATABASE_URL", f"sqlite+aiosqlite:///{Path(env['BATON_DATA_DIR']) / 'none.db'}")
    assert asyncio.run(links()) == {ids["request"]}
    assert not (Path(env["BATON_DATA_DIR"]) / "none.db").exists()


def test_projections_status(journey):
    _, env = journey
    rows = {r["projection"]: r for r in as_json(baton(env, "projections", "status", "--json"))}
    assert set(rows) >= {
        "intake.clients",
        "intake.requests",
        "intake.timeline",
        "intake.delivery_progress",
        "delivery.work_orders",
        "delivery.request_deliveries",
        "delivery.client_managers",
    }
    assert rows["intake.clients"]["lag_events"] == 0 and rows["intake.clients"]["head"] == 5
    # Only ClientRegistered is delivered to it: the need, the handoff and the note after it are no lag.
    assert (
        rows["delivery.client_managers"]["stream"] == "INTAKE" and rows["delivery.client_managers"]["lag_events"] == 0
    )
    assert (
        rows["intake.delivery_progress"]["stream"] == "DELIVERY" and rows["intake.delivery_progress"]["lag_events"] == 0
    )


def test_parked_list_show_drop(journey):
    ids, env = journey
    parked = as_json(baton(env, "parked", "list", "--json"))
    refs = sorted(p["ref"] for p in parked)
    # Every projection reading intake's stream parked the broken message and went on; not
    # delivery's client managers, which fold no notes and so are not given them.
    assert refs == ["intake.clients#4", "intake.requests#4", "intake.timeline#4"]
    shown = as_json(baton(env, "parked", "show", "intake.clients#4", "--json"))
    assert shown["message"] == "{broken" and "not a Baton envelope" in shown["error"]
    assert baton(env, "parked", "drop", "intake.clients#4", "--yes").exit_code == 0
    assert baton(env, "parked", "show", "intake.clients#4").exit_code == 3
    assert len(as_json(baton(env, "parked", "list", "--json"))) == 2


def test_clear_errors_and_exit_codes(journey, tmp_path):
    ids, env = journey
    unknown = baton(env, "events", "tail", "--service", "billing")
    assert unknown.exit_code == 2 and "unknown service 'billing'" in unknown.output
    assert baton(env, "events", "show", "6b1f0000-0000-4000-8000-000000000000").exit_code == 3
    assert baton(env, "trace", "nobody").exit_code == 3
    assert baton(env, "events", "show", "a.b>").exit_code == 2
    assert baton(env, "parked", "show", "no-seq").exit_code == 2
    down = baton({**env, "BATON_NATS_URL": "nats://127.0.0.1:1"}, "streams")
    assert down.exit_code == 1 and "cannot reach NATS" in down.output


def test_projections_rebuild_from_the_command_line(journey):
    _, env = journey
    result = as_json(baton(env, "projections", "rebuild", "intake.clients", "--json"))
    assert result["swapped"] and result["verification"]["keys_agree"]
    assert result["verification"]["tables"]["clients"]["copy_rows"] == 1
    assert "rebuilt intake.timeline" in baton(env, "projections", "rebuild", "intake.timeline").stdout
    copy = as_json(baton(env, "projections", "rebuild", "intake.requests", "--until-seq", "2", "--json"))
    assert copy == {"projection": "intake.requests", "as_of_seq": 2, "tables": ["requests__at_2"], "swapped": False}
    as_of = as_json(
        baton(env, "projections", "rebuild", "delivery.work_orders", "--as-of", "2000-01-01T00:00:00+00:00", "--json")
    )
    assert as_of["as_of_seq"] == 0
    unknown = baton(env, "projections", "rebuild", "intake.nothing")
    assert unknown.exit_code == 2 and "intake has: intake.clients" in unknown.output
    assert baton(env, "projections", "rebuild", "intake").exit_code == 2
    assert (
        "no rebuild of intake.clients to discard"
        in baton(env, "projections", "rebuild", "intake.clients", "--discard").stdout
    )


def test_projections_verify_compares_every_projection_with_a_clean_rebuild(journey):
    import sqlite3

    _, env = journey
    results = as_json(baton(env, "projections", "verify", "--json"))
    names = {r["projection"] for r in results}
    assert {"intake.clients", "intake.timeline", "delivery.work_orders"} <= names
    assert all(r["agrees"] for r in results), results
    # Follow-up never ran here: nothing to compare, said so, no failure.
    notes = {r["note"] for r in results if r["projection"].startswith("followup.")}
    assert notes == {"stream FOLLOWUP does not exist yet", "never started in this database"}
    # A live row the log does not explain: verify names it and exits 1; the copy is dropped.
    db = sqlite3.connect(env["BATON_INTAKE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    db.execute("UPDATE clients SET name = 'Tampered'")
    db.commit()
    bad = baton(env, "projections", "verify", "intake.clients", "intake.requests")
    assert bad.exit_code == 1 and "intake.clients" in bad.output and "DIFFERS" in bad.output
    assert "1 projection(s) differ" in bad.output
    assert not db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%__verify%'").fetchall()
    db.close()
    assert baton(env, "projections", "verify", "intake.nothing").exit_code == 2
    assert baton(env, "projections", "verify", "intake.clients", "--service", "intake").exit_code == 2


def test_rebuild_one_client_in_every_kind_of_projection(journey):
    ids, env = journey
    client = ids["client"]
    expected = {  # projection -> (table, the client's rows)
        "intake.clients": ("clients", 1),
        "intake.timeline": ("client_timeline", 4),  # registered, need, handoff, note (the broken one is parked)
        "intake.delivery_progress": ("delivery_progress", 1),  # keyed by request: no client_id column
        "delivery.work_orders": ("work_orders", 1),
        "delivery.client_managers": ("client_managers", 1),
    }
    for name, (table, rows) in expected.items():
        result = as_json(baton(env, "projections", "rebuild", name, "--client", client, "--json"))
        v = result["verification"]["tables"][table]
        assert result["replaced"] and result["verification"]["keys_agree"], (name, result)
        assert v["live_rows"] == v["copy_rows"] == rows and v["differing_rows"] == 0, (name, v)
        assert v["live_checksum"] == v["copy_checksum"]
    text = baton(env, "projections", "rebuild", "intake.requests", "--client", client)
    assert text.exit_code == 0 and f"rebuilt the rows of client {client} in intake.requests" in " ".join(
        text.stdout.split()
    )
    nobody = baton(env, "projections", "rebuild", "intake.clients", "--client", "6b1f0000-0000-4000-8000-000000000000")
    assert nobody.exit_code == 3 and "no events of client" in nobody.output
    assert baton(env, "projections", "rebuild", "intake.clients", "--client", client, "--until-seq", "3").exit_code == 2
    assert baton(env, "projections", "rebuild", "intake.clients", "--client", "a.b>").exit_code == 2


def test_export_then_import_into_an_empty_stream_reproduces_the_log(journey, nats_url, tmp_path):
    _, env = journey
    dump = tmp_path / "log.jsonl"
    assert baton(env, "export", "--to", str(dump)).exit_code == 0
    lines = [json.loads(x) for x in dump.read_text().splitlines()]
    assert [(x["service"], x["seq"]) for x in lines][:2] == [("intake", 1), ("intake", 2)] and len(lines) == 7
    only_delivery = tmp_path / "delivery.jsonl"
    assert baton(env, "export", "--to", str(only_delivery), "--service", "delivery").exit_code == 0
    assert len(only_delivery.read_text().splitlines()) == 2
    future = tmp_path / "none.jsonl"
    assert baton(env, "export", "--to", str(future), "--since", "2999-01-01T00:00:00+00:00").exit_code == 0
    assert future.read_text() == ""

    asyncio.run(_clean(nats_url))  # an empty log
    first = baton(env, "import", str(dump))
    assert first.exit_code == 0 and "imported 7 messages" in first.stdout, first.output
    again = baton(env, "import", str(dump))
    assert again.exit_code == 0 and "imported 0 messages; 7 already present" in again.stdout
    reexport = tmp_path / "again.jsonl"
    assert baton(env, "export", "--to", str(reexport)).exit_code == 0
    back = [json.loads(x) for x in reexport.read_text().splitlines()]
    assert [(x["service"], x["subject"], x["event_id"], x["data"]) for x in back] == [
        (x["service"], x["subject"], x["event_id"], x["data"]) for x in lines
    ]
    summary = as_json(baton(env, "export", "--to", str(reexport), "--service", "intake", "--json"))
    assert summary == {"file": str(reexport), "messages": 5, "by_service": {"intake": 5}}
    assert baton(env, "export", "--to", str(tmp_path / "no" / "such" / "folder.jsonl")).exit_code == 2

    # A stream holding events the file does not have is no place to import into.
    asyncio.run(_clean(nats_url))
    asyncio.run(_followup_took_the_client_on(nats_url, "someone-else"))
    stranger = tmp_path / "stranger.jsonl"
    followup_line = {
        "service": "followup",
        "subject": "followup.client.x.RelationshipStarted",
        "data": "{}",
        "event_id": "e-1",
    }
    stranger.write_text(json.dumps(followup_line) + "\n")
    refused = baton(env, "import", str(stranger))
    assert refused.exit_code == 2 and "stream FOLLOWUP holds 1 events that are not in" in refused.output, refused.output
    summary = as_json(baton(env, "import", str(dump), "--json"))
    forgetting = {"recorded": 0, "written_from_log": 0, "keys_destroyed": 0, "events_appended": 0}
    assert summary == {"file": str(dump), "imported": 7, "already_present": 0, "forgetting": forgetting}


def test_import_refuses_malformed_files_before_writing_anything(journey, tmp_path):
    _, env = journey
    before = as_json(baton(env, "streams", "--json"))
    bad = tmp_path / "bad.jsonl"
    good = '{"service": "intake", "subject": "intake.client.x.ClientRegistered", "data": "{}", "event_id": "e"}'
    for content, message in [
        (good + "\n{oops\n", "bad.jsonl:2: not JSON"),
        ('{"service": "billing", "subject": "b.x", "data": "{}"}\n', "unknown service 'billing'"),
        (
            '{"service": "intake", "subject": "delivery.request.x.WorkOrderOpened", "data": "{}"}\n',
            "is not in the intake stream",
        ),
        ('{"service": "intake"}\n', "missing or not text: subject, data"),
    ]:
        bad.write_text(content)
        result = baton(env, "import", str(bad))
        assert result.exit_code == 2 and message in result.output, result.output
    assert as_json(baton(env, "streams", "--json")) == before
    assert baton(env, "import", str(tmp_path / "missing.jsonl")).exit_code == 2


def test_events_tail_follow_prints_new_events_as_they_come(journey, nats_url):
    """`--follow` as an operator runs it: a process left running, fed by new appends, then stopped."""
    ids, env = journey
    binary = Path(sys.executable).parent / "baton"
    command = [
        str(binary),
        "events",
        "tail",
        "--follow",
        "--json",
        "-n",
        "1",
        "--client",
        ids["client"],
        "--for",
        "120",
    ]
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def next_event(deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("the follower printed nothing in time")
        try:
            return json.loads(lines.get(timeout=remaining))
        except queue.Empty:
            raise AssertionError(
                f"the follower printed nothing in time; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
            ) from None

    try:
        deadline = time.monotonic() + 30
        first = next_event(deadline)  # the client's last event so far: the follower is reading
        assert first["envelope"]["event_type"] == "ClientNoteAdded"

        async def append() -> list[str]:
            nc = await nats_py.connect(nats_url)
            js = nc.jetstream()
            subject = f"intake.client.{ids['client']}.ClientNoteAdded"
            template = orjson.loads((await js.get_last_msg("INTAKE", subject)).data)
            stranger = str(uuid.uuid4())  # another client's event: not shown
            other = dict(
                template,
                event_id=str(uuid.uuid4()),
                aggregate_id=stranger,
                payload=dict(template["payload"], client_id=stranger),
            )
            await js.publish(f"intake.client.{stranger}.ClientNoteAdded", orjson.dumps(other), stream="INTAKE")
            fresh = []
            for n in range(3):
                event = dict(
                    template,
                    event_id=str(uuid.uuid4()),
                    payload=dict(template["payload"], note_id=str(uuid.uuid4()), text=f"live {n}"),
                )
                await js.publish(subject, orjson.dumps(event), stream="INTAKE")
                fresh.append(event["event_id"])
            await nc.close()
            return fresh

        fresh = asyncio.run(append())
        printed = [next_event(time.monotonic() + 30)["envelope"]["event_id"] for _ in fresh]
        assert printed == fresh
    finally:
        proc.terminate()
        proc.wait(10)


async def _followup_took_the_client_on(nats_url: str, client_id: str) -> None:
    from datetime import datetime, timezone

    from baton_shared.contracts import STREAMS
    from baton_shared.eventstore.provisioning import provision_stream

    nc = await nats_py.connect(nats_url)
    await provision_stream(nc, STREAMS["followup"])
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_type": "RelationshipStarted",
        "schema_version": 1,
        "aggregate_type": "client",
        "aggregate_id": client_id,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "correlation_id": client_id,
        "causation_id": None,
        "actor": "test",
        "payload": {"client_id": client_id, "client_name": "Traced", "account_manager": "alice"},
    }
    await nc.jetstream().publish(
        f"followup.client.{client_id}.RelationshipStarted", orjson.dumps(envelope), stream="FOLLOWUP"
    )
    await nc.close()


def test_every_command_covers_every_service(journey, nats_url, tmp_path):
    from baton_shared.contracts import STREAMS
    from baton_ops.catalogue import projections_of

    ids, env = journey
    client = ids["client"]
    asyncio.run(_followup_took_the_client_on(nats_url, client))
    everyone = set(STREAMS) - {"notify"}  # notify keeps webhook subscriptions, no client's events; not run here
    assert {r["service"] for r in as_json(baton(env, "streams", "--json")) if r["exists"]} == everyone
    assert {s["service"] for s in as_json(baton(env, "trace", client, "--json"))} == everyone
    assert as_json(baton(env, "trace", client, "--scan", "--json")) == as_json(baton(env, "trace", client, "--json"))
    shown = {e["service"] for e in as_json(baton(env, "events", "show", client, "--json"))}
    assert shown == {"intake", "followup"}  # delivery's aggregate is the request
    tail = baton(env, "events", "tail", "--client", client, "--json", "-n", "100")
    assert {json.loads(line)["service"] for line in tail.stdout.splitlines()} == everyone
    dump = tmp_path / "all.jsonl"
    assert baton(env, "export", "--to", str(dump)).exit_code == 0
    assert {json.loads(line)["service"] for line in dump.read_text().splitlines()} == everyone
    status = as_json(baton(env, "projections", "status", "--json"))
    assert {r["projection"].split(".")[0] for r in status} == {s for s in STREAMS if projections_of(s)}
