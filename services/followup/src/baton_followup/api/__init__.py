from baton_followup.api.agenda import router as agenda_router
from baton_followup.api.clients import router as clients_router
from baton_followup.api.complaints import router as complaints_router
from baton_followup.api.follow_ups import router as follow_ups_router
from baton_followup.api.opportunities import router as opportunities_router
from baton_followup.api.programs import router as programs_router

routers = [agenda_router, follow_ups_router, clients_router, opportunities_router, programs_router, complaints_router]

__all__ = ["routers"]
