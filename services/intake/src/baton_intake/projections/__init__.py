from baton_intake.projections.clients import ClientsProjection
from baton_intake.projections.requests import RequestsProjection
from baton_intake.projections.timeline import TimelineProjection


def all_projections(suffix: str = ""):
    return [ClientsProjection(suffix), RequestsProjection(suffix), TimelineProjection(suffix)]


__all__ = ["ClientsProjection", "RequestsProjection", "TimelineProjection", "all_projections"]
