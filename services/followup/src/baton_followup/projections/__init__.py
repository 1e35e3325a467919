"""Follow-up's read models: its own (relationships, follow-ups, opportunities, programs,
briefs) and what it keeps of intake's and delivery's streams."""

from baton_followup.projections.briefs import BriefsProjection
from baton_followup.projections.client_profiles import ClientProfilesProjection
from baton_followup.projections.client_requests import ClientRequestsProjection
from baton_followup.projections.complaints import ComplaintsProjection
from baton_followup.projections.follow_ups import FollowUpsProjection
from baton_followup.projections.opportunities import OpportunitiesProjection
from baton_followup.projections.programs import ProgramsProjection
from baton_followup.projections.relationships import RelationshipsProjection
from baton_followup.projections.request_deliveries import RequestDeliveriesProjection


def all_projections(suffix: str = ""):
    return [
        RelationshipsProjection(suffix), FollowUpsProjection(suffix), OpportunitiesProjection(suffix),
        ProgramsProjection(suffix), BriefsProjection(suffix), ClientProfilesProjection(suffix),
        ClientRequestsProjection(suffix), RequestDeliveriesProjection(suffix), ComplaintsProjection(suffix),
    ]


__all__ = [
    "BriefsProjection", "ClientProfilesProjection", "ClientRequestsProjection", "ComplaintsProjection", "FollowUpsProjection",
    "OpportunitiesProjection", "ProgramsProjection", "RelationshipsProjection", "RequestDeliveriesProjection",
    "all_projections",
]
