from baton_delivery.application.commands import (
    AcceptWorkOrder,
    BlockWork,
    CompleteWork,
    MarkOverdue,
    RecordProgress,
    RecordVerdict,
    StartWork,
    UnblockWork,
)
from baton_delivery.application.delivery import DeliveryApplication, WorkOrderDirectory, Written

__all__ = [
    "AcceptWorkOrder",
    "BlockWork",
    "CompleteWork",
    "DeliveryApplication",
    "MarkOverdue",
    "RecordProgress",
    "RecordVerdict",
    "StartWork",
    "UnblockWork",
    "WorkOrderDirectory",
    "Written",
]
