from baton_delivery.application.delivery import DeliveryApplication, Written, WorkOrderDirectory

__all__ = ["DeliveryApplication", "WorkOrderDirectory", "Written"]
