from baton_delivery.api.boards import router as boards_router
from baton_delivery.api.requests import router as requests_router
from baton_delivery.api.work_orders import router as work_orders_router

routers = [work_orders_router, requests_router, boards_router]

__all__ = ["routers"]
