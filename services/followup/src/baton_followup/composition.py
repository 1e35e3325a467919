"""The composition root: the one place where follow-up's parts are wired together."""

from __future__ import annotations

import functools

from baton_shared.contracts import delivery as delivery_contracts
from baton_shared.contracts import intake as intake_contracts
from baton_shared.application import AggregateCache
from baton_shared.contracts import registry
from baton_shared.service.access import looked_up_again
from baton_shared.service.app import create_service_app
from baton_shared.observability.logging import configure_logging
from baton_shared.service.parts import Runners, ServiceParts
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import BatonSettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_followup import catalogue
from baton_followup.api import routers
from baton_followup.application import Clock, FollowupApplication, Policies, utc_now
from baton_followup.reactions import (
    FollowDeliveryAcceptance,
    FollowDeliveryRejection,
    FollowDeliveryWork,
    FollowIntakeClients,
    JoinContactGroups,
)
from baton_followup.projections import all_projections
from baton_followup.projections.complaint_views import ComplaintViews
from baton_followup.projections.views import FollowupViews
from baton_followup.reports.live import this_month
from baton_followup.reports.snapshots import ReportSnapshots
from baton_followup.reports import Facts
from baton_followup.scheduler import FollowUpPlanner
from baton_followup.scheduler.complaint_deadlines import ComplaintDeadlineScheduler
from baton_followup.settings import FollowupSettings

SERVICE = "followup"
PUBLISHED = [cls for cls in registry.types() if cls.service == SERVICE]
CONSUMED = [
    intake_contracts.ClientRegistered,
    intake_contracts.ClientRevenueChanged,
    intake_contracts.AccountManagerAssigned,
    intake_contracts.ContactPolicyChanged,
    intake_contracts.ClientGrouped,
    intake_contracts.ClientNoteAdded,
    intake_contracts.NeedCaptured,
    intake_contracts.HandoffRequested,
    intake_contracts.RequestCancelled,
    *[cls for cls in registry.types() if cls.service == "delivery" and cls is not delivery_contracts.DeliveryEvent],
]


def policies_from(settings: FollowupSettings) -> Policies:
    return Policies(
        tiers=settings.tier_rules(),
        next_needs=catalogue.next_need_rules(settings.followup_next_needs_file),
        fee_tiers=catalogue.fee_tiers(settings.followup_program_fees_file),
        decline_cool_down_days=settings.followup_decline_cool_down_days,
        outcome_review_after_days=settings.followup_outcome_review_after_days,
        program_lead_days=settings.followup_program_lead_days,
        currency=settings.followup_currency,
        recovery=settings.recovery_rules(),
        complaint_deadlines=catalogue.complaint_deadlines(settings.followup_complaint_deadlines_file),
    )


VIEWS = (
    "relationships",
    "follow_ups",
    "opportunities",
    "programs",
    "briefs",
    "client_profiles",
    "client_requests",
    "request_deliveries",
    "own_events",
    "recoveries",
    "client_health",
)


def followup_settings(settings: BatonSettings | None) -> FollowupSettings:
    if isinstance(settings, FollowupSettings):
        return settings
    return FollowupSettings(**(settings.model_dump() if settings else {}))


def parts(
    settings: BatonSettings, engine: AsyncEngine, runners: Runners | None = None, *, policies: Policies | None = None
) -> ServiceParts:
    """Follow-up's projections and reactions on ``engine``, and the views both they and the
    application read through: what the service runs, and what the ops tool rebuilds, verifies
    and retries with. A reaction waits for intake's news to reach the read models through
    ``runners`` (the runtime's, or ones reading stored checkpoints)."""
    settings = followup_settings(settings)
    # A bad catalogue stops the service here, with the file and entry named.
    policies = policies or policies_from(settings)
    projections = tuple(all_projections())
    by_name = {p.name: p for p in projections}
    views = FollowupViews(
        engine,
        *(by_name[n] for n in VIEWS),
        complaints=ComplaintViews(engine, by_name["complaints"]),
        groups=by_name["contact_groups"],
        agenda=by_name["agenda"],
        ranks=by_name["revenue_ranks"],
    )
    runners = {} if runners is None else runners

    async def intake_caught_up(seq: int) -> bool:
        wait = settings.read_wait_timeout_seconds
        return all(
            [await runners[n].wait_for(seq, wait) for n in ("client_profiles", "revenue_ranks", "client_requests")]
        )

    relationships = AggregateCache()  # the relationship reactions fold a client once between them
    reactions = (
        FollowIntakeClients(views, policies.tiers, intake_caught_up, relationships),
        FollowDeliveryAcceptance(
            views, policies.next_needs, settings.followup_satisfaction_delay_days, policies.recovery, relationships
        ),
        FollowDeliveryRejection(policies.recovery, relationships),
        FollowDeliveryWork(relationships),
        JoinContactGroups(),
    )
    return ServiceParts(SERVICE, projections=projections, reactions=reactions, read_models=views)


class CaughtUpDirectory:
    """Which client an id belongs to, asked again once its projection caught up: a command on an
    id written a moment ago (on any replica) is not answered 404."""

    PROJECTION = {
        "follow-up": "follow_ups",
        "opportunity": "opportunities",
        "program": "programs",
        "recovery": "recoveries",
        "complaint": "complaints",
    }

    def __init__(self, views: FollowupViews, runtime: ServiceRuntime) -> None:
        self.views, self.runtime = views, runtime

    async def client_of(self, what: str, item_id: str) -> str | None:
        return await looked_up_again(
            self.runtime, (self.PROJECTION[what],), lambda: self.views.client_of(what, item_id)
        )


def create_app(settings: BatonSettings | None = None, clock: Clock = utc_now, run_planner: bool = True) -> FastAPI:
    settings = followup_settings(settings)
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    policies = policies_from(settings)
    runtime = ServiceRuntime(SERVICE, settings, registry, functools.partial(parts, settings, policies=policies))
    views: FollowupViews = runtime.parts.read_models
    complaint_views = views.complaints
    application = FollowupApplication(runtime.store, CaughtUpDirectory(views, runtime), policies, clock=clock)
    planner = FollowUpPlanner(
        application, views, settings.followup_reactivation_after_days, settings.followup_planner_seconds
    )
    deadlines = ComplaintDeadlineScheduler(application, complaint_views, settings.followup_complaint_check_seconds)
    if run_planner:
        runtime.run_in_background(planner.run_forever, planner.status)
        runtime.run_in_background(deadlines.run_forever)
    app = create_service_app(
        runtime,
        title="Baton follow-up",
        description=(
            "After the sale: satisfaction checks, review cadence by tier, opportunities with accountability, "
            "handover briefs and programs, all under each client's contact policy (a refused contact is a 409 "
            "and a recorded suppression, never a call). Writes answer with the position they appended; pass it "
            "as `min_position` to a read to see your write."
        ),
        routers=routers,
        published=PUBLISHED,
        consumed=CONSUMED,
    )
    app.state.application = application
    app.state.report_facts = Facts(
        *map(runtime.parts.projection, ("reports_from_intake", "reports_from_delivery", "reports_from_followup"))
    )
    app.state.rotation_warning_changes = settings.followup_rotation_warning_changes
    app.state.report_snapshots = ReportSnapshots(
        settings.followup_report_snapshot_seconds,
        usual=this_month(
            runtime, app.state.report_facts, lambda: clock().date(), settings.followup_rotation_warning_changes
        ),
    )
    if run_planner:  # the background work of a running service, as the planner's
        runtime.run_in_background(app.state.report_snapshots.run_forever)
    app.state.views = views
    app.state.planner = planner
    app.state.complaint_views = complaint_views
    app.state.complaint_deadlines = deadlines
    return app
