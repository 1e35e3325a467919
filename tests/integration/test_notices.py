"""E-mail notices end to end: delivery's and follow-up's events to a real SMTP server (aiosmtpd)
on loopback, through a real NATS.

A work order tells its department's members, a blocked one its account manager; a kind turned
off is not sent; a mail server refusing for a while gets every notice once it is back; two
replicas and a restart send each notice once; a cause older than the horizon is never told;
the morning digest goes once a day; bad input and access on the new endpoints.
"""

from __future__ import annotations

import contextlib
import email
import json
import threading
from datetime import timedelta

import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager

from tests.conftest import free_port
from tests.integration.services import (
    ADMIN,
    TOKENS,
    FakeClock,
    WallClock,
    all_three,
    bearer,
    eventually,
    intake_and_delivery,
)
from tests.integration.test_delivery_flow import act, hand_off, new_request

pytestmark = pytest.mark.nats

ADDRESSES = {"alice": "alice@example.test", "dora": "dora@example.test", "bert": "bert@example.test"}
PEOPLE = json.dumps([dict(t, email=ADDRESSES[t["name"]]) if t["name"] in ADDRESSES else t for t in TOKENS.values()])
FAST = {"notices_poll_seconds": 0.05, "notices_backoff_first_seconds": 0.05, "notices_backoff_max_seconds": 0.2}


class MailServer:
    """Collects what it is sent; ``refuse`` > 0 answers that many messages '451 try again later'."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.Message] = []
        self.refused = 0
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            message = email.message_from_bytes(envelope.content)
            message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(message)
        return "250 OK"

    def to(self, person: str) -> list[email.message.Message]:
        return [m for m in self.messages if m["To"] == ADDRESSES[person]]


@pytest.fixture
def mail():
    server = MailServer()
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def notify_app(nats_url, tmp_path, mail: MailServer, name="notify", clock=None, **settings):
    from baton_notify.composition import create_app
    from baton_notify.settings import NotifySettings

    app = create_app(
        NotifySettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=PEOPLE,
            database_url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}",
            smtp_host="127.0.0.1",
            smtp_port=mail.port,
            smtp_tls="none",
            notices_console_url="http://console.test",
            **{**FAST, **settings},
        ),
        clock=clock or WallClock(),
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notify", headers=ADMIN
        ) as c:
            c.app = app
            yield c


async def _count(mail: MailServer, n: int):
    return len(mail.messages) >= n


@pytest.fixture
async def svc(nats, nats_url, tmp_path):
    async with intake_and_delivery(
        nats_url, f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}", tmp_path, clock=WallClock()
    ) as running:
        yield running


async def test_a_work_order_tells_its_department_and_a_block_its_account_manager(svc, nats_url, tmp_path, mail):
    async with notify_app(nats_url, tmp_path, mail) as notify:
        _, rid = await new_request(svc)
        work = await hand_off(svc, rid, "design", "build")
        await eventually(lambda: _count(mail, 2), what="the two departments told")
        [to_dora], [to_bert] = mail.to("dora"), mail.to("bert")
        assert to_dora["Subject"].startswith("New work order for design: Acme")
        assert f"http://console.test/work-orders/{work['design']}" in to_dora.get_payload()
        assert to_bert["Subject"].startswith("New work order for build: Acme")
        assert to_dora["Message-ID"] != to_bert["Message-ID"]

        await act(svc, work["design"], "accept", {"member": "dora"})
        await act(svc, work["design"], "block", {"reason": "waiting for the client's floor plan"})
        await eventually(lambda: _count(mail, 3), what="the account manager told")
        [to_alice] = mail.to("alice")
        assert to_alice["Subject"] == "Blocked: Acme's work in design"
        assert "floor plan" in to_alice.get_payload()

        # What was sent to whom, as each person reads it.
        mine = await notify.get("/v1/notices", headers=bearer("design"))
        assert [n["status"] for n in mine.json()["items"]] == ["sent"]
        await eventually(lambda: _total(notify, "sent", 3), what="three listed as sent")
    assert len(mail.messages) == 3  # nothing sent twice on the way out


async def test_a_kind_turned_off_is_not_sent_and_each_person_sets_only_their_own(svc, nats_url, tmp_path, mail):
    async with notify_app(nats_url, tmp_path, mail) as notify:
        dora = bearer("design")
        r = await notify.put("/v1/notices/preferences/work_order_opened", json={"on": False}, headers=dora)
        assert r.status_code == 200, r.text
        shown = await notify.get(
            "/v1/notices/preferences", params={"min_position": r.json()["position"]["seq"]}, headers=dora
        )
        kinds = {k["kind"]: k["on"] for k in shown.json()["kinds"]}
        assert shown.json()["email_known"] is True and kinds["work_order_opened"] is False and kinds["work_blocked"]

        # Nobody but admin sets another's; bad kinds and bodies are refused and change nothing.
        other = await notify.put(
            "/v1/notices/preferences/work_order_opened?person=bert", json={"on": False}, headers=dora
        )
        assert other.status_code == 403
        for path, body in (
            ("/v1/notices/preferences/no_such_kind", {"on": False}),
            ("/v1/notices/preferences/work_order_opened", {"on": "no"}),
            ("/v1/notices/preferences/work_order_opened", {}),
        ):
            bad = await notify.put(path, json=body, headers=dora)
            assert bad.status_code == 422, (path, bad.text)
        assert (await notify.get("/v1/notices/preferences", params={"person": "bert"}, headers=dora)).status_code == 403
        unknown = await notify.get("/v1/notices/preferences", headers={"Authorization": "Bearer not-a-known-token"})
        assert unknown.status_code == 401

        _, rid = await new_request(svc)
        await hand_off(svc, rid, "design", "build")
        await eventually(lambda: _count(mail, 1), what="build told")
        await eventually(lambda: _total(notify, "sent", 1), what="listed")
        assert [m["To"] for m in mail.messages] == [ADDRESSES["bert"]]

        # Turned on again, the next one is sent.
        r = await notify.put("/v1/notices/preferences/work_order_opened", json={"on": True}, headers=dora)
        assert r.status_code == 200
        _, rid = await new_request(svc)
        await hand_off(svc, rid, "design")
        await eventually(lambda: _count(mail, 2), what="design told again")
        assert mail.to("dora")


async def test_a_mail_server_refusing_for_a_while_gets_each_notice_once_it_is_back(svc, nats_url, tmp_path, mail):
    mail.refuse = 6
    async with notify_app(nats_url, tmp_path, mail) as notify:
        for _ in range(3):
            _, rid = await new_request(svc)
            await hand_off(svc, rid, "design")
        await eventually(lambda: _count(mail, 3), timeout=30, what="every notice after the refusals")
        assert mail.refused == 6
        assert len(mail.messages) == 3 and len({m["Message-ID"] for m in mail.messages}) == 3
        await eventually(lambda: _total(notify, "sent", 3), what="three listed as sent")
        listed = await notify.get("/v1/notices", params={"status": "sent"})
        assert any(n["attempts"] > 1 and n["last_error"] for n in listed.json()["items"])


async def test_two_replicas_and_a_restart_send_each_notice_once(svc, nats_url, tmp_path, mail):
    async with (
        notify_app(nats_url, tmp_path, mail, name="notify-a") as a,
        notify_app(nats_url, tmp_path, mail, name="notify-b") as b,
    ):
        for _ in range(8):
            _, rid = await new_request(svc)
            await hand_off(svc, rid, "design", "build")
        await eventually(lambda: _count(mail, 16), timeout=30, what="16 notices")
        await eventually(lambda: _recorded_sent((a, b), 16), what="every mail recorded as sent before the stop")
    # Started again (its projections from its own file, the consumer where it was): nothing new.
    async with notify_app(nats_url, tmp_path, mail, name="notify-a") as notify:
        listed = await eventually(lambda: _total(notify, "sent", 16), what="the restarted replica sees 16 sent")
        assert listed
    ids = [m["Message-ID"] for m in mail.messages]
    assert len(ids) == 16 and len(set(ids)) == 16


async def _total(notify, status: str, n: int):
    r = await notify.get("/v1/notices", params={"status": status})
    return r.status_code == 200 and r.json()["total"] == n


async def _recorded_sent(replicas, n: int):
    """The log holds ``n`` sent notices: one replica (each folds its own database) shows them.
    Stopping a replica between a mail and its record is another test's matter (a restart then
    cannot tell the mail went); these stop once both are on record."""
    return any([await _total(replica, "sent", n) for replica in replicas])


async def test_a_cause_older_than_the_horizon_is_never_told(svc, nats_url, tmp_path, mail):
    _, rid = await new_request(svc)
    await hand_off(svc, rid, "design")
    later = FakeClock(WallClock()() + timedelta(days=2))  # notify first starts two days after
    async with notify_app(nats_url, tmp_path, mail, clock=later) as notify:
        await eventually(lambda: _handled(notify, 1), what="notify handled the first work order")
        _, rid = await new_request(svc)
        await hand_off(svc, rid, "build")  # also two days old, by notify's clock
        await eventually(lambda: _handled(notify, 2), what="and the second")
        listed = await notify.get("/v1/notices")
        assert listed.json()["total"] == 0
    assert mail.messages == []


async def _handled(notify, n: int):
    r = await notify.get("/health")
    by_name = {x["reaction"]: x for x in r.json()["reactions"]}
    return by_name["notify.reaction.notices_on_delivery"]["handled"] >= n


async def test_the_morning_digest_lists_what_is_due_once_a_day(nats, nats_url, tmp_path, mail):
    clock = FakeClock()
    followup_db = f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}"
    async with all_three(nats_url, followup_db, tmp_path, clock=clock) as svc:
        r = await svc.intake.post("/v1/clients", json={"name": "Acme", "segment": "B2B", "account_manager": "alice"})
        cid = r.json()["ids"]["client_id"]
        await eventually(lambda: _complaint(svc, cid), what="a complaint opened")
        morning = FakeClock((clock.now + timedelta(days=400)).replace(hour=8))
        async with notify_app(nats_url, tmp_path, mail, clock=morning, notices_digest_hour=7) as notify:
            digest = notify.app.state.morning_digest
            await eventually(lambda: _agenda(notify, "alice", morning), what="notify's agenda has the review")
            await digest.queue_due()  # or its own round, started with the service, did
            await eventually(lambda: _count(mail, 1), what="the digest sent")
            [sent] = mail.to("alice")
            assert sent["Subject"].startswith(f"Your agenda for {morning.now.date()}")
            assert "Acme: complaint: late" in sent.get_payload()
            digest.done.clear()  # as after a restart: the day's digest is in the log already
            assert await digest.queue_due() == 0
        async with notify_app(nats_url, tmp_path, mail, name="notify-b", clock=morning) as other:
            await eventually(lambda: _agenda(other, "alice", morning), what="a second replica's agenda")
            assert await other.app.state.morning_digest.queue_due() == 0
        assert len(mail.messages) == 1


async def _complaint(svc, cid):
    r = await svc.followup.post(f"/v1/clients/{cid}/complaints", json={"category": "delay", "description": "late"})
    return r.status_code == 201


async def _agenda(notify, manager, clock):
    return await notify.app.state.notice_views.agenda_of(manager, clock.now.date())


async def test_a_complaint_tells_the_account_manager_with_its_deadlines(nats, nats_url, tmp_path, mail):
    followup_db = f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}"
    async with all_three(nats_url, followup_db, tmp_path, clock=WallClock()) as svc:
        async with notify_app(nats_url, tmp_path, mail):
            r = await svc.intake.post(
                "/v1/clients", json={"name": "Acme", "segment": "B2B", "account_manager": "alice"}
            )
            cid = r.json()["ids"]["client_id"]
            await eventually(lambda: _complaint(svc, cid), what="a complaint opened")
            await eventually(lambda: _count(mail, 1), what="alice told")
            [sent] = mail.to("alice")
            assert sent["Subject"].startswith("Complaint from Acme: respond by")
            assert f"http://console.test/clients/{cid}" in sent.get_payload()


async def test_every_role_manages_its_own_notices_and_only_admin_another_s(nats, nats_url, tmp_path, mail):
    """The access cases of notify's notices endpoints (test_access.py's, for the three others)."""
    roles = ("admin", "ops", "head", "alice", "bob", "design", "build")
    async with notify_app(nats_url, tmp_path, mail) as notify:
        calls = (
            ("GET", "/v1/notices/preferences", None),
            ("PUT", "/v1/notices/preferences/agenda_digest", {"on": True}),
            ("GET", "/v1/notices", None),
        )
        for method, path, body in calls:
            for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope-nope-nope-nope"}):
                r = await notify.request(method, path, json=body, headers=headers)
                assert r.status_code == 401 and "token" in r.json()["detail"], (method, path, r.text)
            for who in roles:
                r = await notify.request(method, path, json=body, headers=bearer(who))
                assert r.status_code == 200, (method, path, who, r.text)
                # another person's: admin for every call; ops and the head read others' notices
                r = await notify.request(method, path, json=body, params={"person": "dora"}, headers=bearer(who))
                allowed = who == "admin" or (path == "/v1/notices" and who in ("ops", "head"))
                if TOKENS[who]["name"] == "dora":
                    allowed = True
                assert r.status_code == (200 if allowed else 403), (method, path, who, r.text)
        # Turned off for herself by admin, as dora sees it.
        r = await notify.put("/v1/notices/preferences/work_blocked", params={"person": "dora"}, json={"on": False})
        seen = await notify.get(
            "/v1/notices/preferences", params={"min_position": r.json()["position"]["seq"]}, headers=bearer("design")
        )
        assert {k["kind"]: k["on"] for k in seen.json()["kinds"]}["work_blocked"] is False


async def test_one_e_mail_per_overdue_work_order_across_two_replicas_and_a_restart(nats, nats_url, tmp_path, mail):
    clock = FakeClock()
    delivery_db = f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}"
    async with intake_and_delivery(nats_url, delivery_db, tmp_path, clock=clock) as svc:
        async with (
            notify_app(nats_url, tmp_path, mail, name="notify-a") as a,
            notify_app(nats_url, tmp_path, mail, name="notify-b") as b,
        ):
            for _ in range(4):
                _, rid = await new_request(svc)
                await hand_off(svc, rid, "build", due_in_days=3)
            await eventually(lambda: _count(mail, 4), what="build told of its four work orders")
            clock.now += timedelta(days=4)
            scheduler = svc.delivery_app.state.scheduler
            assert [await scheduler.run_once(), await scheduler.run_once()] == [4, 0]
            await eventually(lambda: _count(mail, 8), timeout=30, what="alice told of the four overdue")
            await eventually(lambda: _recorded_sent((a, b), 8), what="every mail recorded as sent before the stop")
        async with notify_app(nats_url, tmp_path, mail, name="notify-b") as notify:
            await eventually(lambda: _total(notify, "sent", 8), what="the restarted replica sees 8 sent")
            assert await scheduler.run_once() == 0
    overdue = [m for m in mail.to("alice") if m["Subject"].startswith("Overdue: Acme's work in build")]
    assert len(overdue) == 4 and len({m["Message-ID"] for m in overdue}) == 4
    assert len(mail.messages) == 8
