"""The head's reports against figures worked out by hand from a scripted month (a fake
clock on all three services, a real broker; follow-up's report facts on SQLite and on
PostgreSQL): equal after a rebuild of the facts, earlier figures as of an earlier moment,
CSV that parses into the JSON's rows.

The month, March 2026 (clients A, B2B, and B, B2C; departments design and construction):

- Mar 2 10:00 A's request R1 "Build a family house" (budget 10000) captured; 11:00 B's R2.
- Mar 3 10:00 R1 handed to design (due Mar 10) and construction (due Mar 12); 11:00 R2 to
  design (due Mar 20), never accepted.
- design: accepted Mar 4 10:00, started, completed Mar 9 10:00 (on time).
- construction: accepted Mar 5 10:00, started, blocked Mar 6 10:00 → unblocked Mar 7 10:00
  (24 h), completed Mar 14 10:00 (2 days late).
- Mar 10 10:00 A: alice → bob; Mar 11 bob opens the brief (acknowledged: read).
- Mar 15 10:00 the client sends design back (rework round 1); design completes Mar 16 10:00;
  Mar 17 10:00 the client accepts R1 (bob's client then).
- Mar 20 10:00 A: bob → alice; 12:00 alice offers furniture and wins it.
- Mar 21 10:00 A: alice → bob; Mar 22 bob confirms the brief.
- Mar 24 bob offers landscaping, the client declines; bob's third contact in 30 days is
  refused (A's cap: 2). Mar 25 bob reviews furniture's outcome: as promised.
- A's program: enrolled Mar 2 (alice's client then), from Mar 1, 12 months.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
from baton_followup.projections.report_facts import REPORT_PROJECTIONS
from baton_followup.reports.as_of import report_at
from baton_followup.reports.figures import Filters, Period
from baton_shared.contracts import STREAMS, registry
from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild

from tests.integration.loop_ticks import counting_ticks, slow_sql_function
from tests.integration.services import all_three, bearer, eventually

pytestmark = pytest.mark.nats


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)


async def ok(response, status=(200, 201)):
    r = await response
    assert r.status_code in status, r.text
    return r.json()


async def found(response):
    """The answer's body when it is a 200 (for ``eventually``), else None."""
    r = await response
    return r.json() if r.status_code == 200 else None


async def script(svc) -> dict:
    """The month above; returns ids, and the wall-clock moment after Mar 14 (before Mar 15)."""
    i, d, f, clock = svc.intake, svc.delivery, svc.followup, svc.clock
    clock.now = at(2, 9)
    a = (
        await ok(
            i.post(
                "/v1/clients",
                json={
                    "name": "Alpha",
                    "segment": "B2B",
                    "account_manager": "alice",
                    "annual_revenue": "900000",
                    "contact_policy": {"max_contacts_per_30_days": 2},
                },
            )
        )
    )["ids"]["client_id"]
    b = (await ok(i.post("/v1/clients", json={"name": "Beta", "segment": "B2C", "account_manager": "bob"})))["ids"][
        "client_id"
    ]
    clock.now = at(2, 10)
    r1 = (await ok(i.post(f"/v1/clients/{a}/requests", json={"summary": "Build a family house", "budget": "10000"})))[
        "ids"
    ]["request_id"]
    clock.now = at(2, 11)
    r2 = (await ok(i.post(f"/v1/clients/{b}/requests", json={"summary": "A kitchen"})))["ids"]["request_id"]
    await eventually(lambda: found(f.get(f"/v1/clients/{a}")), what="A in follow-up")
    program = (
        await ok(
            f.post(
                f"/v1/clients/{a}/programs",
                json={"name": "Care", "starts_on": "2026-03-01", "trailing_12_month_revenue": "900000"},
            )
        )
    )["ids"]["program_id"]
    clock.now = at(3, 10)
    handoff = await ok(
        i.post(
            f"/v1/requests/{r1}/handoffs",
            json={
                "work": [
                    {"department": "design", "scope": "plans", "due_by": "2026-03-10"},
                    {"department": "construction", "scope": "walls", "due_by": "2026-03-12"},
                ]
            },
        )
    )
    design, construction = handoff["ids"]["handoff_ids"]
    clock.now = at(3, 11)
    d2 = (
        await ok(
            i.post(
                f"/v1/requests/{r2}/handoffs",
                json={"work": [{"department": "design", "scope": "kitchen", "due_by": "2026-03-20"}]},
            )
        )
    )["ids"]["handoff_ids"][0]
    for wo in (design, construction, d2):
        await eventually(lambda wo=wo: found(d.get(f"/v1/work-orders/{wo}")), what="work order opened")

    async def act(wo: str, action: str, day: int, body=None) -> None:
        clock.now = at(day)
        await ok(d.post(f"/v1/work-orders/{wo}/{action}", json=body or {}))

    await act(design, "accept", 4, {"member": "dora"})
    await act(construction, "accept", 5, {"member": "carl"})
    await act(construction, "start", 5)
    await act(design, "start", 6)
    await act(construction, "block", 6, {"reason": "no bricks"})
    await act(construction, "unblock", 7)
    await act(design, "complete", 9, {"note": "plans"})
    clock.now = at(10)
    await ok(
        i.put(
            f"/v1/clients/{a}/account-manager",
            json={"account_manager": "bob", "handover_note": "over to bob"},
            headers=bearer("head"),
        )
    )

    async def held_by(manager: str):
        rel = await ok(f.get(f"/v1/clients/{a}"), (200,))
        briefs = (await ok(f.get(f"/v1/clients/{a}/brief"), (200,)))["handovers"]
        return rel["account_manager"] == manager and briefs and briefs[-1]["account_manager"] == manager

    await eventually(lambda: held_by("bob"), what="A handed to bob in follow-up")
    clock.now = at(11)
    await ok(f.get(f"/v1/clients/{a}/brief", headers=bearer("bob")), (200,))
    await act(construction, "complete", 14, {"note": "walls"})
    middle = await settled(svc)
    clock.now = at(15)
    await eventually(lambda: found(d.get(f"/v1/requests/{r1}/delivery")), what="delivery")
    await ok(
        d.post(
            f"/v1/requests/{r1}/acceptance",
            json={"accepted": False, "rework": [{"department": "design", "description": "bigger windows"}]},
        )
    )
    await act(design, "start", 16)
    await act(design, "complete", 16, {"note": "windows"})
    await eventually(
        lambda: found(d.get(f"/v1/requests/{r1}/delivery", headers=bearer("bob"))), what="bob's in delivery"
    )
    clock.now = at(17)
    await ok(d.post(f"/v1/requests/{r1}/acceptance", json={"accepted": True, "satisfaction": 5}))

    async def recovery():  # the rejection opened one (issue 20): no offer until it is closed
        brief = await ok(f.get(f"/v1/clients/{a}/brief"), (200,))
        return brief["recoveries"] and brief["recoveries"][0]["recovery_id"]

    recovery_id = await eventually(recovery, what="the recovery the rejection opened")
    await ok(
        f.post(
            f"/v1/recoveries/{recovery_id}/close",
            json={"actions_taken": "redid the windows", "client_answer": "happy now"},
        )
    )

    async def opportunities():
        page = await ok(f.get("/v1/opportunities", params={"client_id": a}), (200,))
        kinds = {o["kind"]: o["opportunity_id"] for o in page["items"]}
        return {"furniture", "landscaping"} <= set(kinds) and kinds  # and maintenance, after design: left alone

    kinds = await eventually(opportunities, what="the opportunities")
    clock.now = at(20)
    await ok(i.put(f"/v1/clients/{a}/account-manager", json={"account_manager": "alice", "handover_note": "back"}))
    await eventually(lambda: held_by("alice"), what="A back with alice")
    clock.now = at(20, 12)
    await ok(f.post(f"/v1/opportunities/{kinds['furniture']}/offer", json={"channel": "phone"}))
    await ok(f.post(f"/v1/opportunities/{kinds['furniture']}/win", json={"note": "yes"}))
    clock.now = at(21)
    await ok(i.put(f"/v1/clients/{a}/account-manager", json={"account_manager": "bob", "handover_note": "bob again"}))
    await eventually(lambda: held_by("bob"), what="A with bob again")
    clock.now = at(22)
    await ok(f.post(f"/v1/clients/{a}/brief/acknowledgement", headers=bearer("bob")))
    clock.now = at(24)
    await ok(f.post(f"/v1/opportunities/{kinds['landscaping']}/offer", json={"channel": "email"}))
    await ok(f.post(f"/v1/opportunities/{kinds['landscaping']}/decline", json={"reason": "later"}))
    brief = await ok(f.get(f"/v1/clients/{a}/brief"), (200,))
    satisfaction = next(p["follow_up_id"] for p in brief["promises_due"] if p["kind"] == "satisfaction")
    refused = await f.post(f"/v1/follow-ups/{satisfaction}/contacts", json={"channel": "phone", "outcome": "reached"})
    assert refused.status_code == 409 and refused.json()["refusal"] == "frequency_cap", refused.text
    clock.now = at(25)
    await ok(f.post(f"/v1/opportunities/{kinds['furniture']}/outcome", json={"delivered_value": "as_promised"}))
    fee = (await ok(f.get(f"/v1/programs/{program}"), (200,)))["monthly_fee"]
    clock.now = at(25, 12)  # one complaint stays open, one is resolved; a 1/5 opens a recovery
    late = {"category": "delay", "severity": "low", "description": "late"}
    await ok(f.post(f"/v1/clients/{b}/complaints", json=late))
    fixed = (await ok(f.post(f"/v1/clients/{a}/complaints", json=late)))["ids"]["complaint_id"]
    await ok(f.post(f"/v1/complaints/{fixed}/acknowledge", json={"response": "on it"}))
    await ok(f.post(f"/v1/complaints/{fixed}/resolve", json={"resolution": "done", "root_cause": "rota"}))
    await ok(f.post(f"/v1/clients/{a}/satisfaction", json={"score": 1, "comment": "not happy"}))
    await settled(svc)
    return {"a": a, "b": b, "fee": fee, "middle": middle}


async def settled(svc) -> datetime:
    """Every projection has applied everything stored so far; the wall-clock moment after."""
    for app in svc.apps.values():
        runtime = app.state.runtime
        await runtime.refresh_heads()
        for runner in runtime.projections.values():
            assert await runner.wait_for(runner.head, 15), runner.key
    return datetime.now(timezone.utc)


async def report(svc, name: str, **params) -> dict:
    return await ok(svc.followup.get(f"/v1/reports/{name}", params=params, headers=bearer("head")), (200,))


def money(value) -> str:
    return f"{float(value):.2f}"


async def test_the_reports_agree_with_the_month_worked_out_by_hand(nats, nats_url, database_url, tmp_path):
    async with all_three(nats_url, database_url, tmp_path) as svc:
        ids = await script(svc)
        a, b = ids["a"], ids["b"]

        punctuality = await report(svc, "punctuality", period="2026-03")
        assert punctuality["period"] == {"label": "2026-03", "from": "2026-03-01", "to": "2026-04-01"}
        assert punctuality["as_of"] == "2026-03-25"
        assert punctuality["rows"] == [
            {
                "department": "construction",
                "due": 1,
                "on_time": 0,
                "late": 1,
                "late_median_days": 2.0,
                "late_p90_days": 2.0,
                "still_overdue": 0,
                "open_not_yet_due": 0,
                "blocked_hours": 24.0,
                "rework_rounds": 0,
                "rework_rounds_per_request": 0.0,
            },
            {
                "department": "design",
                "due": 2,
                "on_time": 1,
                "late": 0,
                "late_median_days": None,
                "late_p90_days": None,
                "still_overdue": 1,
                "open_not_yet_due": 0,
                "blocked_hours": 0.0,
                "rework_rounds": 1,
                "rework_rounds_per_request": 0.5,
            },
        ]
        assert (await report(svc, "punctuality", period="2026-04"))["rows"] == []
        only_design = await report(svc, "punctuality", period="2026-03", department="Design")
        assert [r["department"] for r in only_design["rows"]] == ["design"]

        lead = {
            (r["group_by"], r["group"], r["stage"]): (r["count"], r["p50_days"], r["p90_days"])
            for r in (await report(svc, "lead-times", period="2026-03"))["rows"]
        }
        assert lead == {
            ("department", "construction", "captured_to_handed_off"): (1, 1.0, 1.0),
            ("department", "construction", "handed_off_to_accepted"): (1, 2.0, 2.0),
            ("department", "construction", "accepted_to_completed"): (1, 9.0, 9.0),
            ("department", "construction", "completed_to_client_accepted"): (1, 3.0, 3.0),
            ("department", "construction", "captured_to_client_accepted"): (1, 15.0, 15.0),
            ("department", "design", "captured_to_handed_off"): (2, 1.0, 1.0),
            ("department", "design", "handed_off_to_accepted"): (1, 1.0, 1.0),
            ("department", "design", "accepted_to_completed"): (1, 5.0, 5.0),
            ("department", "design", "completed_to_client_accepted"): (1, 1.0, 1.0),
            ("department", "design", "captured_to_client_accepted"): (1, 15.0, 15.0),
            ("segment", "B2B", "captured_to_handed_off"): (2, 1.0, 1.0),
            ("segment", "B2B", "handed_off_to_accepted"): (2, 1.0, 2.0),
            ("segment", "B2B", "accepted_to_completed"): (2, 5.0, 9.0),
            ("segment", "B2B", "completed_to_client_accepted"): (2, 1.0, 3.0),
            ("segment", "B2B", "captured_to_client_accepted"): (2, 15.0, 15.0),
            ("segment", "B2C", "captured_to_handed_off"): (1, 1.0, 1.0),
        }

        portfolios = {r["account_manager"]: r for r in (await report(svc, "portfolios", period="2026-03"))["rows"]}
        zero_refusals = {
            f"refused_{c}": 0
            for c in ("do_not_contact", "stopped", "cool_down", "channel", "recovery_in_progress", "managed_elsewhere")
        }
        tiers = [(await ok(svc.followup.get(f"/v1/clients/{c}"), (200,)))["tier"] for c in (a, b)]
        assert portfolios["alice"] == {
            "account_manager": "alice",
            "clients": 0,
            "key_accounts": 0,
            "reviews_overdue": 0,
            "oldest_overdue_review_days": None,
            "recoveries_open": 0,
            "complaints_open": 0,
            "contacts_made": 1,
            "contacts_refused": 0,
            **zero_refusals,
            "refused_frequency_cap": 0,
            "offers_made": 1,
            "offers_won": 1,
            "offers_declined": 0,
            "outcome_reviews": 0,
            "outcome_more_than_promised": 0,
            "outcome_as_promised": 0,
            "outcome_less_than_promised": 0,
            "outcome_nothing": 0,
        }
        assert portfolios["bob"] == {
            "account_manager": "bob",
            "clients": 2,
            "key_accounts": tiers.count("key"),
            "reviews_overdue": 0,
            "oldest_overdue_review_days": None,
            "recoveries_open": 1,
            "complaints_open": 1,
            "contacts_made": 1,
            "contacts_refused": 1,
            **zero_refusals,
            "refused_frequency_cap": 1,
            "offers_made": 1,
            "offers_won": 0,
            "offers_declined": 1,
            "outcome_reviews": 1,
            "outcome_more_than_promised": 0,
            "outcome_as_promised": 1,
            "outcome_less_than_promised": 0,
            "outcome_nothing": 0,
        }
        assert list(portfolios) == ["alice", "bob"]

        rotation = await report(svc, "rotation", period="2026-03")
        assert rotation["rotated_too_often"] == [a]
        assert [
            (
                r["changed_at"][:16],
                r["previous_account_manager"],
                r["account_manager"],
                r["changes_in_12_months"],
                r["rotated_too_often"],
                r["brief_acknowledged"],
                r["brief_acknowledged_how"],
            )
            for r in rotation["rows"]
        ] == [
            ("2026-03-10T10:00", "alice", "bob", 3, True, True, "read"),
            ("2026-03-20T10:00", "bob", "alice", 3, True, False, None),
            ("2026-03-21T10:00", "alice", "bob", 3, True, True, "confirmed"),
        ]
        assert rotation["rows"][0]["brief_acknowledged_at"].startswith("2026-03-11T10:00")
        # Pages of one computation: the second row alone, the same computation, the whole list's count.
        second = await report(svc, "rotation", period="2026-03", limit=1, offset=1)
        assert second["rows"] == rotation["rows"][1:2] and second["total"] == 3 and second["limit"] == 1
        assert second["computed_at"] == rotation["computed_at"] and set(second["positions"]) == {
            "intake",
            "delivery",
            "followup",
        }
        again = await report(svc, "rotation", period="2026-03", fresh="true")
        assert again["computed_at"] > rotation["computed_at"] and again["rows"] == rotation["rows"]

        fee = money(ids["fee"])
        revenue = (await report(svc, "revenue", period="2026-03"))["rows"]
        assert revenue == [  # R1 counts to alice, who handed it off; the program and the win were hers too
            {
                "month": "2026-03",
                "account_manager": "alice",
                "client_id": a,
                "client_name": "Alpha",
                "currency": "EUR",
                "accepted_deliveries": 1,
                "accepted_value": "10000.00",
                "opportunities_won": 1,
                "won_value": "0.00",
                "program_fees_due": fee,
            },
        ]
        quarter = (await report(svc, "revenue", period="2026-Q2", account_manager="alice"))["rows"]
        assert [(r["month"], r["program_fees_due"]) for r in quarter] == [
            ("2026-04", fee),
            ("2026-05", fee),
            ("2026-06", fee),
        ]

        # CSV, asked either way, parses into the JSON's rows (as text).
        for name in ("punctuality", "lead-times", "portfolios", "rotation", "revenue"):
            rows = (await report(svc, name, period="2026-03"))["rows"]
            by_param = await svc.followup.get(
                f"/v1/reports/{name}", params={"period": "2026-03", "format": "csv"}, headers=bearer("head")
            )
            by_accept = await svc.followup.get(
                f"/v1/reports/{name}", params={"period": "2026-03"}, headers={**bearer("head"), "Accept": "text/csv"}
            )
            assert by_param.headers["content-type"].startswith("text/csv") and by_param.text == by_accept.text
            parsed = list(csv.DictReader(io.StringIO(by_param.text)))
            assert parsed == [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows], name

        # Bad input: a clear 422, and who may read them.
        for bad in ("2026-13", "0000", "2026-Q5"):  # 0000 answered 500 before (found by the fuzz run)
            r = await svc.followup.get("/v1/reports/punctuality", params={"period": bad}, headers=bearer("head"))
            assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "period"], r.text
        for who, status in (("alice", 403), ("design", 403), ("ops", 200), ("admin", 200)):
            assert (await svc.followup.get("/v1/reports/revenue", headers=bearer(who))).status_code == status, who

        # The facts equal a clean rebuild; rebuilt and swapped in, the reports are the same.
        runtime = svc.apps["followup"].state.runtime
        before = {
            name: (await report(svc, name, period="2026-03"))["rows"]
            for name in ("punctuality", "portfolios", "rotation", "revenue")
        }
        for make in REPORT_PROJECTIONS:
            spec = STREAMS[make.source or "followup"]
            _, verification = await ProjectionRebuild(
                "followup", make, runtime.engine, spec, registry, suffix=VERIFY_SUFFIX
            ).verify(nats)
            assert verification.rows_agree, (make.name, verification.as_json())
            job = ProjectionRebuild("followup", make, runtime.engine, spec, registry)
            await job.build(nats)
            assert (await job.swap(nats)).rows_agree
        after = {name: (await report(svc, name, period="2026-03", fresh="true"))["rows"] for name in before}
        assert after == before

        # As of the moment after Mar 14: no rework yet, R2's design work not yet due, nobody rotated twice.
        async def as_of(name: str, today: str) -> list[dict]:
            from baton_ops.event_log import seq_before

            day = datetime.fromisoformat(today).date()
            rows, _ = await report_at(
                nats,
                runtime.engine,
                name,
                Filters(Period.parse("2026-03", day), day),
                lambda stream: seq_before(nats, stream, ids["middle"]),
            )
            return rows

        earlier = await as_of("punctuality", "2026-03-14")
        assert [
            (r["department"], r["on_time"], r["late"], r["still_overdue"], r["open_not_yet_due"], r["rework_rounds"])
            for r in earlier
        ] == [("construction", 0, 1, 0, 0, 0), ("design", 1, 0, 0, 1, 0)]
        assert [
            (r["account_manager"], r["changes_in_12_months"], r["brief_acknowledged"])
            for r in await as_of("rotation", "2026-03-14")
        ] == [("bob", 1, True)]
        assert await as_of("revenue", "2026-03-14") == [
            revenue[0] | {"accepted_deliveries": 0, "accepted_value": "0.00", "opportunities_won": 0}
        ]


async def _late_design_work(nats_url: str, tmp_path) -> datetime:
    """One work order due May 6, completed May 8 (two days late); the wall-clock moment
    before its completion."""
    import nats as nats_py

    from tests.conftest import delete_streams

    nc = await nats_py.connect(nats_url)
    await delete_streams(nc)
    await nc.close()
    followup_db = f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}"
    async with all_three(nats_url, followup_db, tmp_path) as svc:
        svc.clock.now = datetime(2026, 5, 4, 9, tzinfo=timezone.utc)
        cid = (
            await ok(
                svc.intake.post("/v1/clients", json={"name": "Late", "segment": "B2B", "account_manager": "alice"})
            )
        )["ids"]["client_id"]
        rid = (await ok(svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "plans"})))["ids"]["request_id"]
        wo = (
            await ok(
                svc.intake.post(
                    f"/v1/requests/{rid}/handoffs",
                    json={"work": [{"department": "design", "scope": "plans", "due_by": "2026-05-06"}]},
                )
            )
        )["ids"]["handoff_ids"][0]
        await eventually(lambda: found(svc.delivery.get(f"/v1/work-orders/{wo}")), what="work order")
        await ok(svc.delivery.post(f"/v1/work-orders/{wo}/accept", json={"member": "dora"}))
        await ok(svc.delivery.post(f"/v1/work-orders/{wo}/start", json={}))
        before = await settled(svc)
        svc.clock.now = datetime(2026, 5, 8, 9, tzinfo=timezone.utc)
        await ok(svc.delivery.post(f"/v1/work-orders/{wo}/complete", json={"note": "late"}))
        await settled(svc)
    return before


def test_baton_reports_gives_a_report_as_the_log_stood_then(nats_url, tmp_path):
    import asyncio
    import json

    from baton_ops.cli import app
    from typer.testing import CliRunner

    before = asyncio.run(_late_design_work(nats_url, tmp_path))
    env = {
        "BATON_NATS_URL": nats_url,
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_FOLLOWUP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}",
    }

    def baton(*args: str):
        return CliRunner().invoke(app, ["reports", *args], env=env)

    def design(*args: str) -> dict:
        result = baton("punctuality", "--period", "2026-05", "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["rows"][0]

    then = design("--as-of", before.isoformat(), "--today", "2026-05-07")
    assert (then["due"], then["on_time"], then["late"], then["still_overdue"]) == (1, 0, 0, 1)
    now = design("--today", "2026-05-08")
    assert (now["late"], now["late_median_days"], now["still_overdue"]) == (1, 2.0, 0)
    as_csv = baton("punctuality", "--period", "2026-05", "--csv")
    assert as_csv.exit_code == 0 and list(csv.DictReader(io.StringIO(as_csv.stdout)))[0]["late_median_days"] == "2.0"
    assert baton("bonuses").exit_code == 2 and baton("revenue", "--period", "2026-13").exit_code == 2


async def test_a_report_is_computed_off_the_loop(tmp_path):
    """A report scans every client's facts (seconds on a large log): its statements run in
    the connection's thread, so the service answers meanwhile, whatever
    BATON_SQLITE_STATEMENTS says."""
    from baton_followup.reports.figures import Report, Rows
    from baton_shared.projections.sql import make_engine
    from sqlalchemy import text

    async def scan(conn, facts, f) -> Rows:  # noqa: ANN001 - as a report's query
        return Rows.made([{"on_loop": await conn.scalar(text("SELECT slow(500)"))}])

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'facts.sqlite3'}")
    try:
        async with engine.connect() as conn:
            (await conn.get_raw_connection()).driver_connection.create_function("slow", 1, slow_sql_function())
            async with counting_ticks() as ticks:
                rows = await Report("scan", scan, ()).compute(conn, None, None)
    finally:
        await engine.dispose()
    assert rows == [{"on_loop": 0}] and ticks.count >= 20, f"the loop stood still ({ticks.count} ticks in 0.5 s)"
