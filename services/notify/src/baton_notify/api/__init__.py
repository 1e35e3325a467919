from baton_notify.api.webhooks import router as webhooks_router

routers = [webhooks_router]

__all__ = ["routers"]
