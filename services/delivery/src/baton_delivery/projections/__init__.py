from baton_shared.projections.own_events import OwnEventsProjection

from baton_delivery.projections.client_managers import ClientManagersProjection
from baton_delivery.projections.request_deliveries import RequestDeliveriesProjection
from baton_delivery.projections.work_orders import WorkOrdersProjection


def all_projections(suffix: str = ""):
    return [
        WorkOrdersProjection(suffix),
        RequestDeliveriesProjection(suffix),
        ClientManagersProjection(suffix),
        OwnEventsProjection(suffix),
    ]


__all__ = [
    "ClientManagersProjection",
    "OwnEventsProjection",
    "RequestDeliveriesProjection",
    "WorkOrdersProjection",
    "all_projections",
]
