"""The composition root: the one place where follow-up's parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI

from baton_shared.contracts import delivery as delivery_contracts
from baton_shared.contracts import intake as intake_contracts
from baton_shared.contracts import registry
from baton_shared.eventstore.lazy import LazyEventStore
from baton_shared.service.app import create_service_app
from baton_shared.service.logging import configure_logging
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import BatonSettings

from baton_followup import catalogue
from baton_followup.api import routers
from baton_followup.application import Clock, FollowupApplication, Policies, utc_now
from baton_followup.reactions import FollowDeliveryAcceptance, FollowIntakeClients, JoinContactGroups
from baton_followup.projections import all_projections
from baton_followup.projections.views import FollowupViews
from baton_followup.reports import Facts
from baton_followup.scheduler import FollowUpPlanner
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
    )


def create_app(settings: BatonSettings | None = None, clock: Clock = utc_now, run_planner: bool = True) -> FastAPI:
    if not isinstance(settings, FollowupSettings):
        settings = FollowupSettings(**(settings.model_dump() if settings else {}))
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    policies = policies_from(settings)  # a bad catalogue stops the service here, with the file and entry named
    projections = all_projections()
    by_name = {p.name: p for p in projections}
    background = []
    runtime = ServiceRuntime(SERVICE, settings, registry, projections=projections, background=background)
    views = FollowupViews(runtime.engine, *(by_name[n] for n in (
        "relationships", "follow_ups", "opportunities", "programs", "briefs", "client_profiles", "client_requests",
        "request_deliveries",
    )))

    async def intake_caught_up(seq: int) -> bool:
        wait = settings.read_wait_timeout_seconds
        return all([await runtime.projections[n].wait_for(seq, wait) for n in ("client_profiles", "client_requests")])

    runtime.add_reactions(
        FollowIntakeClients(views, policies.tiers, intake_caught_up),
        FollowDeliveryAcceptance(views, policies.next_needs, settings.followup_satisfaction_delay_days),
        JoinContactGroups(),
    )
    application = FollowupApplication(LazyEventStore(runtime), views, policies, clock=clock)
    planner = FollowUpPlanner(application, views, settings.followup_reactivation_after_days, settings.followup_planner_seconds)
    if run_planner:
        background.append(planner.run_forever)
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
        *(by_name[n] for n in ("reports_from_intake", "reports_from_delivery", "reports_from_followup"))
    )
    app.state.rotation_warning_changes = settings.followup_rotation_warning_changes
    app.state.views = views
    app.state.planner = planner
    return app
