"""The console's own rules, against stand-in services (no network): API errors in words
beside their fields (both error shapes), a 503 that says to try again and keeps the
form's idempotency key, CSRF on every form, the session cookie's attributes."""

from __future__ import annotations

import re

import httpx
import pytest
from asgi_lifespan import LifespanManager
from baton_console.app import create_app
from baton_console.gateway import error_from
from baton_console.settings import ConsoleSettings
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

pytestmark = pytest.mark.unit
CLIENT = "11111111-2222-4333-8444-555555555555"
FOLLOW_UP = "66666666-7777-4888-8999-000000000000"
HELD = "66666666-7777-4888-8999-000000000001"
TOKEN = "alice-token-0000000000"


def test_both_error_shapes_become_field_messages_in_words():
    fastapi_shape = {
        "detail": [
            {"loc": ["body", "name"], "msg": "String should have at least 1 character", "type": "string_too_short"}
        ]
    }
    problem_shape = {
        "type": "about:blank",
        "title": "Unprocessable",
        "status": 422,
        "detail": "invalid input",
        "errors": [
            {
                "loc": ["body", "contacts", 0, "email"],
                "msg": "value is not a valid email address: An email address must have an @-sign.",
                "type": "value_error",
            }
        ],
    }
    a, b = error_from(422, fastapi_shape), error_from(422, problem_shape)
    assert a.fields == {"name": "Please fill this in."} and a.message == "Please correct the fields marked below."
    assert b.fields == {"contacts.email": "Value is not a valid email address: An email address must have an @-sign."}
    assert error_from(409, {"detail": "the request is cancelled"}).message == "the request is cancelled"
    assert "try again" in error_from(503, {"detail": "the event log is unavailable"}).message
    refused = error_from(
        409, {"detail": "the client's contact policy refuses this contact: cap", "refusal": "frequency_cap"}
    )
    assert refused.refusal == "frequency_cap"
    assert error_from(403, {"detail": "bob (account manager) may not read it"}).message.startswith("Not allowed: bob")


class StandIn:
    """Intake as far as the console's client registration needs it; answers set by the test."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.answers: list[tuple[int, dict]] = []
        self.keys: list[str | None] = []
        self.agenda_asked: list[dict] = []
        self.app.get("/v1/me")(self.me)
        self.app.post("/v1/clients")(self.register)
        self.app.get("/v1/agenda")(self.agenda)
        self.app.get("/v1/parked")(self.parked)
        self.app.get("/health")(self.health)
        self.sign_outs = 0
        self.app.get("/v1/me/sign-outs")(self.signed_out)
        self.app.post("/v1/me/sign-outs")(self.sign_out)
        self.app.post("/v1/follow-ups/{follow_up_id}/contacts")(self.register)

    async def health(self):
        planner = {"name": "planner", "running": False, "waiting_for_read_models": True, "passes": 3}
        last = {"started_at": "2026-12-01T09:00:00+00:00", "error": "TimeoutError()"}
        return {
            "status": "ok",
            "projections": [{"projection": "profiles", "checkpoint": 40, "head": 52, "lag": 12}],
            "schedules": [{**planner, "last_pass": last}],
        }

    async def me(self, request: Request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"detail": "unknown bearer token"}, status_code=401)
        return {"name": "alice", "role": "account_manager", "department": None}

    async def agenda(self, request: Request):
        item = {
            "follow_up_id": FOLLOW_UP,
            "client_id": CLIENT,
            "client_name": "Villa Rossi",
            "tier": "key",
            "kind": "review",
            "due_on": "2026-12-01",
            "reason": "key account: a review every 30 days",
            "overdue_days": 1,
            "offer_title": None,
            "may_contact": True,
            "not_now_code": None,
            "not_now": None,
        }
        held = {
            **item,
            "follow_up_id": HELD,
            "client_name": "Quiet Oy",
            "tier": "standard",
            "may_contact": False,
            "not_now_code": "stopped",
            "not_now": "the client asked us to stop on 2026-11-02: no contact until their contact policy changes",
        }
        self.agenda_asked.append(dict(request.query_params))
        return {"items": [item, held], "total": 2, "limit": 20, "offset": 0}

    async def signed_out(self):
        return {"sign_outs": self.sign_outs, "last_at": None}

    async def sign_out(self):
        self.sign_outs += 1
        return {"sign_outs": self.sign_outs, "last_at": "2026-12-01T10:00:00+00:00"}

    async def parked(self):
        item = {
            "ref": "intake.requests#42",
            "owner": "intake.requests",
            "stream": "INTAKE",
            "seq": 42,
            "subject": "intake.request.r1.HandoffRequested",
            "error": "schema version 2 is newer than this reader",
            "tries": 3,
            "parked_at": "2026-12-01T10:00:00+00:00",
        }
        return {"items": [item], "total": 1, "limit": 20, "offset": 0}

    async def register(self, request: Request):
        self.keys.append(request.headers.get("idempotency-key"))
        status, body = self.answers.pop(0)
        return JSONResponse(body, status_code=status)


@pytest.fixture
async def console(tmp_path):
    stand_in = StandIn()
    settings = ConsoleSettings(secret=Fernet.generate_key().decode(), data_dir=tmp_path)
    app = create_app(settings, transport=httpx.ASGITransport(app=stand_in.app))
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client, stand_in


def hidden(html: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.DOTALL).group(0)
    return dict(re.findall(r'name="(csrf_token|idempotency_key)" value="([^"]+)"', form))


async def signed_in(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return await client.post("/signin", data={"csrf_token": csrf, "token": TOKEN})


async def test_sign_in_sets_a_guarded_cookie_without_the_token_in_it(console):
    client, _ = console
    answer = await signed_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http
    assert TOKEN not in cookie and TOKEN not in answer.headers["location"]


async def test_a_field_error_is_shown_beside_its_field_and_a_new_key_is_made(console):
    client, stand_in = console
    await signed_in(client)
    page = await client.get("/clients/new")
    form = hidden(page.text, "/clients")
    stand_in.answers.append(
        (
            422,
            {
                "detail": "invalid input",
                "errors": [
                    {
                        "loc": ["body", "contacts", 0, "email"],
                        "msg": "value is not a valid email address",
                        "type": "value_error",
                    }
                ],
            },
        )
    )
    answer = await client.post(
        "/clients", data={**form, "name": "Acme", "segment": "B2B", "contact_name": "P", "contact_email": "nope"}
    )
    assert answer.status_code == 422
    assert re.search(r'id="client-contact_email-error">Value is not a valid email address.<', answer.text)
    assert 'value="nope"' in answer.text and 'value="Acme"' in answer.text  # what was typed stays
    assert stand_in.keys == [form["idempotency_key"]]
    assert hidden(answer.text, "/clients")["idempotency_key"] != form["idempotency_key"]


async def test_a_503_says_to_try_again_and_keeps_the_key_so_the_retry_counts_once(console):
    client, stand_in = console
    await signed_in(client)
    form = hidden((await client.get("/clients/new")).text, "/clients")
    stand_in.answers.append((503, {"detail": "the event log is unavailable, retry with the same request"}))
    answer = await client.post("/clients", data={**form, "name": "Acme", "segment": "B2B"})
    assert answer.status_code == 503 and "Please try again in a moment." in answer.text
    again = hidden(answer.text, "/clients")
    assert again["idempotency_key"] == form["idempotency_key"]
    stand_in.answers.append((201, {"ids": {"client_id": CLIENT}, "position": {"stream": "INTAKE", "seq": 7}}))
    answer = await client.post("/clients", data={**again, "name": "Acme", "segment": "B2B"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/clients/{CLIENT}?done=client&after=intake%3A7"
    assert stand_in.keys == [form["idempotency_key"]] * 2


async def test_a_form_without_the_sessions_csrf_token_is_refused_before_any_call(console):
    client, stand_in = console
    await signed_in(client)
    form = hidden((await client.get("/clients/new")).text, "/clients")
    for token in (None, "forged-token-forged-token"):
        data = {"idempotency_key": form["idempotency_key"], "name": "Forged", "segment": "B2B"}
        if token:
            data["csrf_token"] = token
        answer = await client.post("/clients", data=data)
        assert answer.status_code == 403 and "did not come from your console session" in answer.text
    assert stand_in.keys == []  # nothing reached the service


async def test_pages_need_a_session_and_sign_out_ends_it(console):
    client, _ = console
    assert (await client.get("/agenda")).headers["location"] == "/signin"
    await signed_in(client)
    sealed = client.cookies["baton_session"]
    page = await client.get("/clients/new")
    csrf = hidden(page.text, "/clients")["csrf_token"]
    assert (await client.post("/signout", data={"csrf_token": csrf})).headers["location"] == "/signin"
    client.cookies.set("baton_session", sealed)  # the old cookie, replayed
    assert (await client.get("/clients/new")).headers["location"] == "/signin"


def test_a_placeholder_secret_stops_the_console_with_a_message(tmp_path):
    with pytest.raises(ValueError, match="BATON_CONSOLE_SECRET .* is not a Fernet key"):
        create_app(ConsoleSettings(secret="change-me-a-fernet-key", data_dir=tmp_path))
    made = ConsoleSettings(data_dir=tmp_path).fernet_key()  # a local run makes one, kept for the next start
    assert made == ConsoleSettings(data_dir=tmp_path).fernet_key()
    assert (tmp_path / "console.secret").stat().st_mode & 0o077 == 0


async def test_a_contact_the_policy_refuses_is_explained_on_the_agenda(console):
    client, stand_in = console
    await signed_in(client)
    agenda = await client.get("/agenda")
    assert "Review call" in agenda.text and "key account: a review every 30 days" in agenda.text
    assert 'hx-trigger="every 3s' in agenda.text  # the list asks for changes by itself
    form = hidden(agenda.text, f"/follow-ups/{FOLLOW_UP}/contact")
    reason = "2 contacts in the last 30 days reach the client's limit of 2; next contact possible on 2026-12-20"
    stand_in.answers.append(
        (409, {"detail": f"the client's contact policy refuses this contact: {reason}", "refusal": "frequency_cap"})
    )
    answer = await client.post(
        f"/follow-ups/{FOLLOW_UP}/contact", data={**form, "channel": "phone", "outcome": "reached"}
    )
    assert answer.status_code == 409
    shown = re.search(r'<div class="error" role="alert" id="refusal">(.*?)</div>', answer.text, re.DOTALL).group(1)
    assert "Not recorded." in shown and reason.replace("'", "&#39;") in shown and "kept in the client" in shown
    fragment = await client.get("/agenda?fragment=1")
    assert fragment.text.lstrip().startswith('<section id="agenda"') and "<html" not in fragment.text


async def test_the_agenda_says_why_not_for_what_the_policy_holds_back(console):
    client, stand_in = console
    await signed_in(client)
    agenda = await client.get("/agenda")
    assert stand_in.agenda_asked[-1]["include"] == "held"
    held = re.search(rf'<li class="card held" id="fu-{HELD}">(.*?)</li>', agenda.text, re.DOTALL).group(1)
    assert "Not now:" in held and "asked us to stop on 2026-11-02" in held
    assert "May contact now." not in held and "<form" not in held  # no contact offered while held
    assert f'action="/follow-ups/{FOLLOW_UP}/contact"' in agenda.text  # the allowed one keeps its form


async def test_the_ops_page_lists_each_services_parked_events(console):
    client, _ = console
    await signed_in(client)
    page = await client.get("/ops")
    assert page.status_code == 200
    assert page.text.count("Parked events (1)") == 3  # the stand-in answers for all three services
    assert "intake.requests#42" in page.text and "newer than this reader" in page.text
    assert "baton parked retry" in page.text  # what to do about one
    planner = re.search(r"<td>planner</td>(.*?)</tr>", page.text, re.DOTALL).group(1)
    assert "waiting for the read models" in planner and "2026-12-01 09:00" in planner and "TimeoutError()" in planner


async def test_signing_out_on_one_replica_ends_the_copied_session_on_another(tmp_path):
    """Two replicas with one secret: a cookie opens both; signing out on one ends it on both."""
    stand_in = StandIn()
    secret = Fernet.generate_key().decode()

    def replica() -> FastAPI:
        settings = ConsoleSettings(secret=secret, data_dir=tmp_path, sign_out_check_seconds=0)
        return create_app(settings, transport=httpx.ASGITransport(app=stand_in.app))

    a, b = replica(), replica()
    async with (
        LifespanManager(a),
        LifespanManager(b),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://console") as on_a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=b), base_url="http://console") as on_b,
    ):
        await signed_in(on_a)
        on_b.cookies.set("baton_session", on_a.cookies["baton_session"])  # the cookie, copied
        assert (await on_b.get("/agenda")).status_code == 200
        page = await on_a.get("/agenda")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert (await on_a.post("/signout", data={"csrf_token": csrf})).status_code == 303
        assert stand_in.sign_outs == 1
        answer = await on_b.get("/agenda")
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        await signed_in(on_b)  # a new session after the sign-out is valid
        assert (await on_b.get("/agenda")).status_code == 200
