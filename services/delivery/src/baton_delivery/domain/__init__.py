from baton_delivery.domain.delivery import RequestDelivery, WorkOrder

__all__ = ["RequestDelivery", "WorkOrder"]
