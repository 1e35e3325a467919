from baton_intake.api.clients import router as clients_router
from baton_intake.api.requests import router as requests_router

routers = [clients_router, requests_router]

__all__ = ["routers"]
