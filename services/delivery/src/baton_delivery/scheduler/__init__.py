from baton_delivery.scheduler.overdue import OverdueScheduler

__all__ = ["OverdueScheduler"]
