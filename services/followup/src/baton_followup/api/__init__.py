from baton_shared.service.events_api import events_router
from baton_shared.service.parked_api import parked_router

from baton_followup.api.agenda import router as agenda_router
from baton_followup.api.dependencies import client_rule
from baton_followup.api.clients import router as clients_router
from baton_followup.api.complaints import router as complaints_router
from baton_followup.api.follow_ups import router as follow_ups_router
from baton_followup.api.health import router as health_router
from baton_followup.api.opportunities import router as opportunities_router
from baton_followup.api.programs import router as programs_router
from baton_followup.api.recoveries import router as recoveries_router
from baton_followup.api.reports import router as reports_router

routers = [
    agenda_router,
    follow_ups_router,
    clients_router,
    opportunities_router,
    programs_router,
    recoveries_router,
    health_router,
    reports_router,
    complaints_router,
    events_router(client_rule, "own_events"),
    parked_router(),
]

__all__ = ["routers"]
