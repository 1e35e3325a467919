from baton_shared.service.events_api import events_router
from baton_shared.service.parked_api import parked_router

from baton_delivery.api.boards import router as boards_router
from baton_delivery.api.dependencies import client_rule
from baton_delivery.api.requests import router as requests_router
from baton_delivery.api.work_orders import router as work_orders_router

routers = [
    work_orders_router,
    requests_router,
    boards_router,
    events_router(client_rule, "own_events"),
    parked_router(),
]

__all__ = ["routers"]
