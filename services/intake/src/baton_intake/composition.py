"""The composition root: the one place where intake's parts are wired together."""

from __future__ import annotations

import functools

from baton_shared.contracts import followup as followup_contracts
from baton_shared.contracts import intake as contracts
from baton_shared.contracts import registry
from baton_shared.forgotten import ForgottenClients, reapply_forgetting
from baton_shared.privacy import JetStreamKeyStore, PersonalDataVault, load_master_key
from baton_shared.service.app import create_service_app
from baton_shared.observability.logging import configure_logging
from baton_shared.service.parts import Runners, ServiceParts
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import BatonSettings, secret_value
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_intake.api import routers
from baton_intake.application import IntakeApplication
from baton_intake.application.intake import Clock, utc_now
from baton_intake.domain import GROUPING_PURPOSE
from baton_intake.reactions import OpenRequestsForWonOpportunities
from baton_intake.projections import own_and_foreign
from baton_intake.projections.views import IntakeViews
from baton_intake.sign_outs import SignOuts

SERVICE = "intake"
PUBLISHED = [cls for cls in registry.types() if cls.service == SERVICE]
CONSUMED = [cls for cls in registry.types() if cls.service == "delivery"] + [followup_contracts.OpportunityWon]


def parts(settings: BatonSettings, engine: AsyncEngine, runners: Runners | None = None) -> ServiceParts:
    """Intake's projections (delivery's progress among them) and reactions on ``engine``: what the
    service runs, and what the ops tool rebuilds, verifies and retries with."""
    return ServiceParts(
        SERVICE,
        projections=tuple(own_and_foreign()),
        reactions=(OpenRequestsForWonOpportunities(),),
    )


def create_app(settings: BatonSettings | None = None, clock: Clock = utc_now) -> FastAPI:
    settings = settings or BatonSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    # Contacts are sealed with a key per client, kept in the CLIENT_KEYS stream (issue 7, erasure);
    # forgotten clients are recorded apart from the broker's store, so a restored backup cannot
    # bring their keys back (issue 17): the record is applied again before anything is served.
    forgotten = ForgottenClients(settings.forgotten_folder())

    async def forget_again(runtime: ServiceRuntime) -> None:
        await reapply_forgetting(runtime.nc, forgotten, runtime.store, keys.held, vault.forget)

    runtime = ServiceRuntime(
        SERVICE,
        settings,
        registry,
        functools.partial(parts, settings),
        on_connect=[forget_again],
    )
    app = create_service_app(
        runtime,
        title="Baton intake",
        description=(
            "Clients, their needs, clarifications and handoffs to departments. Every write answers "
            "with the stream position it appended; pass it as `min_position` (or the "
            "`Baton-Min-Position` header) to a read to see your own write. "
            f"Events: see /asyncapi.json ({contracts.__name__})."
        ),
        routers=routers,
        published=PUBLISHED,
        consumed=CONSUMED,
    )
    master_key = load_master_key(secret_value(settings.master_key), settings.data_dir)
    keys = JetStreamKeyStore(lambda: runtime.nc, master_key, replicas=settings.stream_replicas)
    vault = PersonalDataVault(keys, forgotten=forgotten)
    app.state.application = IntakeApplication(
        runtime.store, clock=clock, vault=vault, grouping_key=master_key.derived_key(GROUPING_PURPOSE)
    )
    app.state.sign_outs = SignOuts(lambda: runtime.nc, replicas=settings.stream_replicas)
    app.state.views = IntakeViews(
        runtime.engine,
        *map(runtime.parts.projection, ("clients", "requests", "timeline", "delivery_progress")),
        vault=vault,
    )
    return app
