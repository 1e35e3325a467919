"""Delivery's commands, in the imperative. Each carries who issued it, why, and its key (``Command``)."""

from __future__ import annotations

from dataclasses import dataclass

from baton_shared.application import Command
from baton_shared.contracts.delivery import ReworkItem


@dataclass(frozen=True, kw_only=True)
class WorkOrderCommand(Command):
    """A department's command on one work order (the directory says whose request holds it)."""

    work_order_id: str


@dataclass(frozen=True, kw_only=True)
class AcceptWorkOrder(WorkOrderCommand):
    member: str


@dataclass(frozen=True, kw_only=True)
class StartWork(WorkOrderCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RecordProgress(WorkOrderCommand):
    note: str
    percent: int | None = None


@dataclass(frozen=True, kw_only=True)
class BlockWork(WorkOrderCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class UnblockWork(WorkOrderCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class CompleteWork(WorkOrderCommand):
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordVerdict(Command):
    """The client's verdict on the delivery: accepted (with satisfaction), or rework per department."""

    request_id: str
    accepted: bool
    satisfaction: int | None = None
    feedback: str = ""
    rework: tuple[ReworkItem, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MarkOverdue(Command):
    request_id: str
    work_order_id: str
    actor: str = "scheduler:overdue"
