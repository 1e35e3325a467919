from baton_shared.service.events_api import events_router
from baton_shared.service.parked_api import parked_router

from baton_intake.api.clients import router as clients_router
from baton_intake.api.dependencies import client_rule
from baton_intake.api.personal_data import router as personal_data_router
from baton_intake.api.requests import router as requests_router
from baton_intake.api.sign_outs import router as sign_outs_router

routers = [
    clients_router,
    personal_data_router,
    requests_router,
    events_router(client_rule, "timeline"),
    parked_router(),
    sign_outs_router,
]

__all__ = ["routers"]
