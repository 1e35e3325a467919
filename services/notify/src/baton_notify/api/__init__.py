from baton_notify.api.notices import router as notices_router
from baton_notify.api.webhooks import router as webhooks_router

routers = [webhooks_router, notices_router]

__all__ = ["routers"]
