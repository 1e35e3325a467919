"""The load the fault test sends: whole client journeys across the three services,
through their HTTP APIs, written the way a careful client writes.

Every write carries an ``Idempotency-Key``. When the answer does not come (a timeout,
a dropped connection, a refused one while the service is down) or says "try again"
(5xx, 429, a 409 for a concurrent change), the same request goes again with the same
key until a deadline. Every command is kept in a ledger with its key, exact body
bytes and the answer that acknowledged it, so the audit can find its events.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import orjson

from tests.integration.services import ADMIN

ACTOR = "api"  # the admin token's name: the actor recorded on every event the load writes
NEED_SUMMARY = "website relaunch"  # what every journey's client needs (follow-up's catalogue matches it)


@dataclass
class Command:
    service: str
    method: str
    path: str
    body: bytes
    key: str
    attempts: int = 0
    status: int | None = None  # the answer that ended it
    answer: dict | None = None

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Rejected(Exception):
    """A write answered with a 4xx that retrying cannot change: a bug in the load or in Baton."""


class Unacked(Exception):
    """A write never answered with a success before its deadline."""


@dataclass
class Ledger:
    commands: list[Command] = field(default_factory=list)
    acked: int = 0
    answers: Counter = field(default_factory=Counter)  # (service, status) of every attempt
    transport_errors: Counter = field(default_factory=Counter)  # (service, error type)
    failed_journeys: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # seconds until what a reaction makes was readable


def _retryable(status: int, answer: bytes) -> bool:
    if status >= 500 or status == 429:
        return True
    return status == 409 and b"concurrent change" in answer


class Api:
    def __init__(self, bases: dict[str, str], ledger: Ledger, patience: float = 120.0) -> None:
        self.ledger, self.patience = ledger, patience
        self.in_flight: Counter = Counter()
        self.http = {
            name: httpx.AsyncClient(
                base_url=base,
                headers=ADMIN,
                timeout=10,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            )
            for name, base in bases.items()
        }

    async def close(self) -> None:
        for client in self.http.values():
            await client.aclose()

    async def write(self, service: str, method: str, path: str, body: dict, key: str) -> dict:
        command = Command(service, method, path, orjson.dumps(body), key)
        self.ledger.commands.append(command)
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        deadline, pause = time.monotonic() + self.patience, 0.05
        while True:
            command.attempts += 1
            self.in_flight[service] += 1
            try:
                answer = await self.http[service].request(method, path, content=command.body, headers=headers)
            except httpx.TransportError as exc:
                self.ledger.transport_errors[(service, type(exc).__name__)] += 1
                answer = None
            finally:
                self.in_flight[service] -= 1
            if answer is not None:
                self.ledger.answers[(service, answer.status_code)] += 1
                if answer.is_success:
                    command.status, command.answer = answer.status_code, answer.json()
                    self.ledger.acked += 1
                    return command.answer
                if not _retryable(answer.status_code, answer.content):
                    command.status = answer.status_code
                    raise Rejected(f"{method} {service}{path} → {answer.status_code} {answer.text[:300]}")
            if time.monotonic() > deadline:
                raise Unacked(f"{method} {service}{path}: no success in {self.patience}s ({command.attempts} attempts)")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def read(self, service: str, path: str, params: dict | None = None, until=None) -> dict:  # noqa: ANN001
        """GET until it answers 200 (and ``until(body)`` holds): what a reaction makes appears
        a moment after its cause, and reads may 503 while a fault lasts."""
        started = time.monotonic()
        deadline, pause = started + self.patience, 0.02
        while True:
            try:
                answer = await self.http[service].get(path, params=params)
                if answer.status_code == 200 and (until is None or until(answer.json())):
                    self.ledger.waits.append(time.monotonic() - started)
                    return answer.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise Unacked(f"GET {service}{path} {params or ''}: not there after {self.patience}s")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)


async def client_journey(api: Api, n: int) -> None:
    """One client from registration to a follow-up on what was delivered: ~21 writes.

    intake: register (with contacts), a note, revenue, a need, a clarification, a handoff
    to two departments; delivery: each work order accepted, started, two progress notes,
    completed, then the client's acceptance; follow-up: satisfaction, a program, the
    opportunity the delivery suggests offered, then won (and its outcome reviewed) or
    declined."""
    k = f"fault-{n}"
    due = (date.today() + timedelta(days=30)).isoformat()
    client = await api.write(
        "intake",
        "POST",
        "/v1/clients",
        {
            "name": f"Client {n}",
            "segment": "B2B",
            "account_manager": "alice",
            "contacts": [{"name": f"Person {n}", "email": f"person{n}@example.com", "phone": "+420 600 100 200"}],
            "annual_revenue": str(20_000 + 97 * n),
        },
        f"{k}-client",
    )
    cid = client["ids"]["client_id"]
    await api.write("intake", "POST", f"/v1/clients/{cid}/notes", {"text": "calls before nine"}, f"{k}-note")
    await api.write(
        "intake", "PUT", f"/v1/clients/{cid}/revenue", {"annual_revenue": str(30_000 + 89 * n)}, f"{k}-revenue"
    )
    need = await api.write("intake", "POST", f"/v1/clients/{cid}/requests", {"summary": NEED_SUMMARY}, f"{k}-need")
    rid = need["ids"]["request_id"]
    await api.write(
        "intake",
        "POST",
        f"/v1/requests/{rid}/clarifications",
        {"question": "how many languages?", "answer": "two"},
        f"{k}-clarify",
    )
    handoff = await api.write(
        "intake",
        "POST",
        f"/v1/requests/{rid}/handoffs",
        {
            "work": [
                {"department": "design", "scope": "the look", "due_by": due},
                {"department": "web", "scope": "the build", "due_by": due},
            ]
        },
        f"{k}-handoff",
    )
    for i, wo in enumerate(handoff["ids"]["handoff_ids"]):
        await api.read("delivery", f"/v1/work-orders/{wo}")  # opened by delivery's reaction
        steps = [
            ("accept", {"member": "dora"}),
            ("start", {}),
            ("progress", {"note": "half way", "percent": 50}),
            ("progress", {"note": "nearly", "percent": 90}),
            ("complete", {"note": "done"}),
        ]
        for j, (action, body) in enumerate(steps):
            await api.write("delivery", "POST", f"/v1/work-orders/{wo}/{action}", body, f"{k}-wo{i}-{j}")
    await api.write(
        "delivery",
        "POST",
        f"/v1/requests/{rid}/acceptance",
        {"accepted": True, "satisfaction": 4, "feedback": "good work"},
        f"{k}-acceptance",
    )
    await api.read("followup", f"/v1/clients/{cid}")  # the relationship, started by follow-up's reaction
    await api.write(
        "followup", "POST", f"/v1/clients/{cid}/satisfaction", {"score": 5, "request_id": rid}, f"{k}-satisfaction"
    )
    await api.write(
        "followup",
        "POST",
        f"/v1/clients/{cid}/programs",
        {"name": "Care plan", "minimum_term_months": 6, "total_term_months": 12, "notice_days": 30},
        f"{k}-program",
    )
    found = await api.read("followup", "/v1/opportunities", {"client_id": cid}, until=lambda page: page["items"])
    oid = found["items"][0]["opportunity_id"]
    await api.write("followup", "POST", f"/v1/opportunities/{oid}/offer", {"channel": "phone"}, f"{k}-offer")
    if n % 2:
        await api.write("followup", "POST", f"/v1/opportunities/{oid}/win", {"note": "yes"}, f"{k}-win")
        await api.write(
            "followup", "POST", f"/v1/opportunities/{oid}/outcome", {"delivered_value": "as_promised"}, f"{k}-outcome"
        )
    else:
        await api.write(
            "followup", "POST", f"/v1/opportunities/{oid}/decline", {"reason": "not this year"}, f"{k}-decline"
        )


async def run_journeys(api: Api, count: int, concurrency: int) -> None:
    """``count`` journeys, ``concurrency`` at a time; a journey that fails is recorded and
    the others go on (the test fails on it afterwards, with every reason)."""
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            try:
                await client_journey(api, n)
            except (Rejected, Unacked) as exc:
                api.ledger.failed_journeys.append(f"journey {n}: {exc}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
