"""The Request aggregate: one client need, from capture through clarification to handoff.

Status: ``captured`` -> ``clarifying`` (questions answered) -> ``handed_off``
(work with departments) ; ``cancelled`` from any of them, and final.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from baton_shared.contracts.intake import (
    ChangeRequested,
    ClarificationRecorded,
    HandoffRequested,
    NeedCaptured,
    RequestCancelled,
    RequirementValue,
    WorkItem,
)
from baton_shared.domain import Aggregate, DomainRuleViolation

CAPTURED, CLARIFYING, HANDED_OFF, CANCELLED = "captured", "clarifying", "handed_off", "cancelled"


class Request(Aggregate):
    aggregate_type = "request"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.client_id = ""
        self.status = CAPTURED
        self.departments: set[str] = set()

    # --- commands -----------------------------------------------------------

    @classmethod
    def capture(
        cls,
        request_id: str,
        *,
        client_id: str,
        summary: str,
        today: date,
        requirements: dict[str, RequirementValue] | None = None,
        budget: Decimal | None = None,
        currency: str = "EUR",
        desired_by: date | None = None,
        source_opportunity_id: str | None = None,
    ) -> Request:
        if desired_by is not None and desired_by < today:
            raise DomainRuleViolation(f"desired_by {desired_by} is in the past (today is {today})")
        request = cls(request_id)
        request._record(
            NeedCaptured(
                request_id=request_id,
                client_id=client_id,
                summary=summary,
                requirements=requirements or {},
                budget=budget,
                currency=currency,
                desired_by=desired_by,
                source_opportunity_id=source_opportunity_id,
            )
        )
        return request

    def clarify(self, question: str, answer: str) -> None:
        self._must_be_open("record a clarification")
        self._record(
            ClarificationRecorded(request_id=self.id, client_id=self.client_id, question=question, answer=answer)
        )

    def hand_off(
        self, work: Sequence[WorkItem], handoff_ids: Sequence[str], *, account_manager: str, today: date
    ) -> None:
        self._must_be_open("hand off work")
        if not work:
            raise DomainRuleViolation("a handoff needs at least one piece of work for a department")
        seen: set[str] = set()
        for item in work:
            if item.department in seen:
                raise DomainRuleViolation(
                    f"department {item.department!r} appears twice in one handoff; give it one scope"
                )
            seen.add(item.department)
            if item.due_by < today:
                raise DomainRuleViolation(
                    f"due date {item.due_by} for {item.department!r} is in the past (today is {today})"
                )
        for item, handoff_id in zip(work, handoff_ids, strict=True):
            self._record(
                HandoffRequested(
                    request_id=self.id,
                    client_id=self.client_id,
                    handoff_id=handoff_id,
                    department=item.department,
                    scope=item.scope,
                    due_by=item.due_by,
                    account_manager=account_manager,
                )
            )

    def request_change(self, change_id: str, department: str | None, description: str, requested_by: str) -> None:
        self._must_be_open("request a change")
        if not self.departments:
            raise DomainRuleViolation("nothing has been handed off yet: clarify the need instead")
        if department is not None and department not in self.departments:
            raise DomainRuleViolation(
                f"department {department!r} has no work on this request "
                f"(handed off to: {', '.join(sorted(self.departments))})"
            )
        self._record(
            ChangeRequested(
                request_id=self.id,
                client_id=self.client_id,
                change_id=change_id,
                department=department,
                description=description,
                requested_by=requested_by,
            )
        )

    def cancel(self, reason: str, now: datetime) -> None:
        self._must_be_open("cancel it")
        self._record(RequestCancelled(request_id=self.id, client_id=self.client_id, reason=reason, cancelled_at=now))

    def _must_be_open(self, action: str) -> None:
        if not self.exists:
            raise DomainRuleViolation(f"request {self.id} does not exist")
        if self.status == CANCELLED:
            raise DomainRuleViolation(f"request {self.id} is cancelled: cannot {action}")

    # --- state --------------------------------------------------------------

    def _on_NeedCaptured(self, e: NeedCaptured) -> None:
        self.client_id = e.client_id

    def _on_ClarificationRecorded(self, e: ClarificationRecorded) -> None:
        if self.status == CAPTURED:
            self.status = CLARIFYING

    def _on_HandoffRequested(self, e: HandoffRequested) -> None:
        self.status = HANDED_OFF
        self.departments.add(e.department)

    def _on_RequestCancelled(self, e: RequestCancelled) -> None:
        self.status = CANCELLED
