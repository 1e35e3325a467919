from baton_intake.projections.clients import ClientsProjection
from baton_intake.projections.delivery_progress import DeliveryProgressProjection
from baton_intake.projections.requests import RequestsProjection
from baton_intake.projections.timeline import TimelineProjection


def all_projections(suffix: str = ""):
    return [ClientsProjection(suffix), RequestsProjection(suffix), TimelineProjection(suffix)]


def own_and_foreign(suffix: str = ""):
    """Every projection intake runs: its own stream's, and delivery's progress."""
    return [*all_projections(suffix), DeliveryProgressProjection(suffix)]


__all__ = [
    "ClientsProjection",
    "DeliveryProgressProjection",
    "RequestsProjection",
    "TimelineProjection",
    "all_projections",
]
