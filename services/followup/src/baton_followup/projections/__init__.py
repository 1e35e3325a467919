"""Follow-up's read models: its own (relationships, follow-ups, opportunities, programs,
briefs, recoveries, client health), what it keeps of intake's and delivery's streams, and the
head's report facts from all three (``report_facts``)."""

from baton_shared.projections.own_events import OwnEventsProjection

from baton_followup.projections.agenda import AgendaProjection
from baton_followup.projections.briefs import BriefsProjection
from baton_followup.projections.client_health import ClientHealthProjection
from baton_followup.projections.client_profiles import ClientProfilesProjection
from baton_followup.projections.client_requests import ClientRequestsProjection
from baton_followup.projections.complaints import ComplaintsProjection
from baton_followup.projections.contact_groups import ContactGroupsProjection
from baton_followup.projections.follow_ups import FollowUpsProjection
from baton_followup.projections.opportunities import OpportunitiesProjection
from baton_followup.projections.programs import ProgramsProjection
from baton_followup.projections.recoveries import RecoveriesProjection
from baton_followup.projections.relationships import RelationshipsProjection
from baton_followup.projections.report_facts import ReportsFromDelivery, ReportsFromFollowup, ReportsFromIntake
from baton_followup.projections.request_deliveries import RequestDeliveriesProjection
from baton_followup.projections.revenue_ranks import RevenueRanksProjection


def all_projections(suffix: str = ""):
    return [
        RelationshipsProjection(suffix),
        FollowUpsProjection(suffix),
        OpportunitiesProjection(suffix),
        ProgramsProjection(suffix),
        BriefsProjection(suffix),
        ClientProfilesProjection(suffix),
        RevenueRanksProjection(suffix),
        ClientRequestsProjection(suffix),
        RequestDeliveriesProjection(suffix),
        OwnEventsProjection(suffix),
        RecoveriesProjection(suffix),
        ClientHealthProjection(suffix),
        ComplaintsProjection(suffix),
        ContactGroupsProjection(suffix),
        AgendaProjection(suffix),
        ReportsFromIntake(suffix),
        ReportsFromDelivery(suffix),
        ReportsFromFollowup(suffix),
    ]


__all__ = [
    "AgendaProjection",
    "BriefsProjection",
    "ClientHealthProjection",
    "ClientProfilesProjection",
    "ClientRequestsProjection",
    "ComplaintsProjection",
    "FollowUpsProjection",
    "OpportunitiesProjection",
    "OwnEventsProjection",
    "ProgramsProjection",
    "RecoveriesProjection",
    "RelationshipsProjection",
    "RevenueRanksProjection",
    "ReportsFromDelivery",
    "ReportsFromFollowup",
    "ReportsFromIntake",
    "RequestDeliveriesProjection",
    "all_projections",
]
