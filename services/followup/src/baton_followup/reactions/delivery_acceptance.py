"""Delivery's acceptance -> a satisfaction check, and what the client will probably need next.

The satisfaction check is due a configurable number of days after acceptance;
each rule of the catalogue of next needs that matches what was delivered
becomes an opportunity with an offer follow-up. Every id is derived from the
acceptance, so a redelivered acceptance schedules nothing twice. A satisfaction
of 1-2 also opens a recovery: the opportunities are still identified, but the
contact policy holds their offers until the recovery closes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from baton_shared.application import AggregateCache
from baton_shared.events.envelope import RecordedEvent, derived_event_id
from baton_shared.reactions import CauseNotReady

from baton_followup.domain import NextNeedRule, RecoveryRules, Relationship, next_needs
from baton_followup.projections.views import FollowupViews
from baton_followup.reactions.on_relationship import DeliveryToRelationship


class FollowDeliveryAcceptance(DeliveryToRelationship):
    name = "delivery_acceptance"
    event_types = ("DeliveryAccepted",)

    def __init__(
        self,
        views: FollowupViews,
        rules: tuple[NextNeedRule, ...],
        satisfaction_delay_days: int,
        recovery: RecoveryRules = RecoveryRules(),
        cache: AggregateCache | None = None,
    ) -> None:
        super().__init__(cache)
        self.views = views
        self.rules = rules
        self.satisfaction_delay_days = satisfaction_delay_days
        self.recovery = recovery

    async def context(self, cause: RecordedEvent) -> Any:
        text = await self.views.request_text(cause.event.request_id)
        if text is None:
            # The request reaches this view from intake's stream, through another consumer
            # (behind after a restart, say): matching rules against no text would identify
            # fewer next needs, for good. Wait for it, as for the relationship below.
            raise CauseNotReady(f"request {cause.event.request_id}: not projected yet (intake's events not applied)")
        return text

    def act(self, relationship: Relationship, cause: RecordedEvent, context: Any = None) -> None:
        e, cause_id = cause.event, cause.envelope.event_id
        self.started(relationship)
        accepted_on = e.accepted_at.date()
        satisfaction_id = derived_event_id(cause_id, "satisfaction")
        if e.satisfaction is not None and satisfaction_id not in relationship.follow_ups:
            relationship.record_satisfaction(
                e.satisfaction,
                e.feedback,
                e.request_id,
                e.accepted_at,
                "delivery acceptance",
                recovery=(derived_event_id(cause_id, "recovery"), self.recovery),
            )
        relationship.schedule(
            satisfaction_id,
            "satisfaction",
            accepted_on + timedelta(days=self.satisfaction_delay_days),
            f"check satisfaction with the delivery of request {e.request_id} ({', '.join(e.departments)})",
            request_id=e.request_id,
        )
        for rule in next_needs(self.rules, e.departments, context or ""):
            relationship.identify(
                derived_event_id(cause_id, f"opportunity:{rule.id}"),
                rule,
                e.request_id,
                derived_event_id(cause_id, f"offer:{rule.id}"),
                accepted_on,
            )
