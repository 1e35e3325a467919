"""Intake's client events -> the relationship: tier and cadence, contact policy, handover brief.

One reaction, one durable consumer, for the four event types, so they are
handled in the order intake recorded them. The tier needs the client's rank by
revenue among the others (counted by the database) and the brief needs the client's
history: both come from follow-up's read models (waited on up to the cause's
position; a rank is not counted before they hold every earlier client), gathered before
deciding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from baton_shared.contracts import STREAMS
from baton_shared.contracts import intake
from baton_shared.application import AggregateCache
from baton_shared.events.envelope import RecordedEvent, derived_event_id
from baton_shared.reactions import CauseNotReady

from baton_followup.domain import Relationship, TierRules, tier_by_rank
from baton_followup.projections.views import FollowupViews
from baton_followup.reactions.on_relationship import OnRelationship

CaughtUp = Callable[[int], Awaitable[bool]]


class FollowIntakeClients(OnRelationship):
    name = "intake_clients"
    source = STREAMS["intake"]
    event_types = (
        "ClientRegistered",
        "ClientRevenueChanged",
        "AccountManagerAssigned",
        "ContactPolicyChanged",
        "ClientGrouped",
    )

    def __init__(
        self, views: FollowupViews, rules: TierRules, intake_caught_up: CaughtUp, cache: AggregateCache | None = None
    ) -> None:
        super().__init__(cache)
        self.views = views
        self.rules = rules
        self.intake_caught_up = intake_caught_up

    async def context(self, cause: RecordedEvent) -> Any:
        e = cause.event
        if isinstance(e, (intake.ClientRegistered, intake.ClientRevenueChanged)):
            if not await self.intake_caught_up(cause.seq - 1):
                # Counted now, the rank would leave out clients registered before this one.
                raise CauseNotReady(f"client {e.client_id}: follow-up has not read intake up to {cause.seq - 1} yet")
            return await self.views.revenue_rank(e.annual_revenue, excluding=e.client_id)
        if isinstance(e, intake.AccountManagerAssigned):
            await self.intake_caught_up(cause.seq)
            return await self.views.brief(e.client_id)
        return None

    def act(self, relationship: Relationship, cause: RecordedEvent, context: Any = None) -> None:
        e, cause_id = cause.event, cause.envelope.event_id
        today = cause.envelope.occurred_at.date()
        if isinstance(e, intake.ClientRegistered):
            relationship.start(
                client_name=e.name,
                account_manager=e.account_manager,
                policy=e.contact_policy,
                revenue=e.annual_revenue,
                contact_group=e.contact_group,
            )
        if isinstance(e, (intake.ClientRegistered, intake.ClientRevenueChanged)):
            higher, others_known = context or (0, 0)
            tier, reason = tier_by_rank(e.annual_revenue, higher, others_known, self.rules)
            relationship.set_tier(
                tier,
                self.rules.review_days(tier),
                e.annual_revenue,
                reason,
                today,
                derived_event_id(cause_id, "review"),
            )
        elif isinstance(e, intake.AccountManagerAssigned):
            brief = dict(context or {}, account_manager=e.account_manager, handover_note=e.handover_note)
            relationship.hand_over(
                derived_event_id(cause_id, "brief"),
                e.account_manager,
                e.previous_account_manager,
                brief,
                derived_event_id(cause_id, "introduction"),
                today,
            )
        elif isinstance(e, intake.ContactPolicyChanged):
            relationship.adopt_policy(e.contact_policy)
        elif isinstance(e, intake.ClientGrouped):
            relationship.join_group(e.group_id, e.parent_organisation)
