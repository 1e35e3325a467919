"""Intake and delivery running together in the test's loop, on a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
from asgi_lifespan import LifespanManager

from baton_shared.service.settings import BatonSettings


# API tokens the test services know (baton_shared.service.access). Clients built here send
# the admin token; test_access.py uses the others.
TOKENS = {
    "admin": {"name": "api", "role": "admin", "token": "test-admin-token-000000"},
    "ops": {"name": "olga", "role": "ops", "token": "test-ops-token-00000000"},
    "head": {"name": "hanna", "role": "head", "token": "test-head-token-0000000"},
    "alice": {"name": "alice", "role": "account_manager", "token": "test-alice-token-000000"},
    "bob": {"name": "bob", "role": "account_manager", "token": "test-bob-token-00000000"},
    "design": {"name": "dora", "role": "department", "department": "design", "token": "test-design-token-00000"},
    "build": {"name": "bert", "role": "department", "department": "build", "token": "test-build-token-000000"},
}
TEST_TOKENS = json.dumps(list(TOKENS.values()))


def bearer(who: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]['token']}"}


ADMIN = bearer("admin")


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class WallClock(FakeClock):
    """The real time, for a journey whose events are ordered by when they occurred: a
    command's events carry its service's clock, a reaction's the wall clock."""

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class Running:
    intake: httpx.AsyncClient
    delivery: httpx.AsyncClient
    delivery_app: object
    clock: FakeClock


@contextlib.asynccontextmanager
async def intake_and_delivery(
    nats_url: str,
    delivery_db: str,
    tmp_path,
    clock: FakeClock | None = None,
    run_scheduler: bool = False,
    **delivery_settings,
):
    from baton_delivery.composition import create_app as create_delivery
    from baton_intake.composition import create_app as create_intake

    clock = clock or FakeClock()
    common = {
        "nats_url": nats_url,
        "data_dir": tmp_path,
        "read_wait_timeout_seconds": 5,
        "log_level": "WARNING",
        "tokens": TEST_TOKENS,
    }
    intake_app = create_intake(
        BatonSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}", **common), clock=clock
    )
    delivery_app = create_delivery(
        BatonSettings(database_url=delivery_db, **common, **delivery_settings), clock=clock, run_scheduler=run_scheduler
    )
    async with (
        LifespanManager(intake_app, startup_timeout=30, shutdown_timeout=30),
        LifespanManager(delivery_app, startup_timeout=30, shutdown_timeout=30),
    ):
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=intake_app), base_url="http://intake", headers=ADMIN
            ) as i,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=delivery_app), base_url="http://delivery", headers=ADMIN
            ) as d,
        ):
            yield Running(i, d, delivery_app, clock)
            for app in (intake_app, delivery_app):
                await cached_agree_with_the_log(app.state.application)


async def cached_agree_with_the_log(application) -> None:
    """Every aggregate in an application's aggregate cache (``baton_shared.application``),
    brought forward to its stored history, equals the aggregate folded from scratch: the
    cache never drifts from the log whatever the flow did to it."""
    cache = application.aggregates.cache
    for cls, aggregate_id in cache.entries:
        history = await application.store.history(cls.aggregate_type, aggregate_id)
        held = cache.fold(cls, aggregate_id, history)
        fresh = cls.from_history(aggregate_id, history)
        assert vars(held) == vars(fresh), f"{cls.__name__} {aggregate_id}: held state differs from the log's"


async def eventually(probe, timeout: float = 15.0, what: str = "condition"):
    """Poll ``probe`` (async, returns a truthy value when done) until a deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s (last: {last!r})")


@dataclass
class AllThree:
    intake: httpx.AsyncClient
    delivery: httpx.AsyncClient
    followup: httpx.AsyncClient
    followup_app: object
    clock: FakeClock
    apps: dict[str, object] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def all_three(
    nats_url: str,
    followup_db: str,
    tmp_path,
    clock: FakeClock | None = None,
    databases: dict[str, str] | None = None,
    **followup_settings,
):
    """Intake, delivery and follow-up on one broker (follow-up's planner run by hand); intake's and
    delivery's databases are SQLite files unless ``databases`` names them."""
    from baton_delivery.composition import create_app as create_delivery
    from baton_followup.composition import create_app as create_followup
    from baton_followup.settings import FollowupSettings
    from baton_intake.composition import create_app as create_intake

    clock = clock or FakeClock()
    common = {
        "nats_url": nats_url,
        "data_dir": tmp_path,
        "read_wait_timeout_seconds": 5,
        "log_level": "WARNING",
        "tokens": TEST_TOKENS,
    }
    db = {name: f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}" for name in ("intake", "delivery")}
    db |= databases or {}
    apps = {
        "intake": create_intake(BatonSettings(database_url=db["intake"], **common), clock=clock),
        "delivery": create_delivery(
            BatonSettings(database_url=db["delivery"], **common), clock=clock, run_scheduler=False
        ),
        "followup": create_followup(
            FollowupSettings(database_url=followup_db, **common, **followup_settings), clock=clock, run_planner=False
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(LifespanManager(app, startup_timeout=30, shutdown_timeout=30))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=ADMIN)
            )
        yield AllThree(clients["intake"], clients["delivery"], clients["followup"], apps["followup"], clock, apps)
        for app in apps.values():
            await cached_agree_with_the_log(app.state.application)
