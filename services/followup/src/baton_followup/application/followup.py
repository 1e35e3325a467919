"""Follow-up's command methods: find the client's relationship, the domain call, the save.

Follow-ups, opportunities and programs are addressed by their own ids; the
directory (follow-up's read models) says which client's relationship holds
each. Correlation id = the client id (the relationship is the client's
journey after the sale); causation id = the HTTP call's correlation id.

A contact the policy refuses is still a write: the suppression is appended,
then the refusal is raised (answered 409 with the reason).

A contact of an account in a contact group first takes the group's slot
(``_group_slot``), then is recorded on the account's relationship: two steps, so a
crash between them costs a slot (a contact refused, never one made twice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from baton_shared.application import Aggregates, Clock, Written, require_uuid, utc_now
from baton_shared.contracts.followup import ContactSuppressed
from baton_shared.domain import DomainRuleViolation, NotFound
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import EventStore

from baton_followup.application import commands as c
from baton_followup.domain import (
    ContactGroup,
    ContactState,
    FeeTier,
    NextNeedRule,
    PolicyRefused,
    RecoveryRules,
    Refusal,
    Relationship,
    TierRules,
)
from baton_followup.domain.complaints import ComplaintDeadlines


class Directory(Protocol):
    async def client_of(self, what: str, item_id: str) -> str | None: ...


@dataclass(frozen=True)
class Policies:
    """The configurable numbers follow-up decides with."""

    tiers: TierRules
    next_needs: tuple[NextNeedRule, ...]
    fee_tiers: tuple[FeeTier, ...]
    decline_cool_down_days: int = 90
    outcome_review_after_days: int = 90
    program_lead_days: int = 14
    currency: str = "EUR"
    recovery: RecoveryRules = RecoveryRules()
    complaint_deadlines: Mapping[str, ComplaintDeadlines] = field(
        default_factory=lambda: {"standard": ComplaintDeadlines("standard", 24, 120)}
    )


class FollowupApplication:
    def __init__(
        self, store: EventStore, directory: Directory, policies: Policies, clock: Clock = utc_now, attempts: int = 5
    ):
        self.store = store
        self.directory = directory
        self.policies = policies
        self.clock = clock
        self.aggregates = Aggregates(store, attempts, clock=clock)

    async def _update(
        self, client_id: str, cmd: c.Command, decide: Callable[[Relationship], Any], **save: Any
    ) -> Written:
        """``Aggregates.update`` on the client's relationship; a refusal decided (or replayed) is
        raised after its suppression is stored."""
        written = await self.aggregates.update(Relationship, client_id, cmd, decide, **save)
        if isinstance(written.outcome, Refusal):
            raise PolicyRefused(written.outcome)
        if written.replayed and isinstance(first := written.replayed[0].event, ContactSuppressed):
            raise PolicyRefused(Refusal(first.code, first.reason))  # the first answer was a refusal: again
        return written

    async def _client_of(self, what: str, item_id: str) -> str:
        require_uuid(item_id, what)
        client_id = await self.directory.client_of(what, item_id)
        if client_id is None:
            raise NotFound(f"{what} {item_id} not found")
        return client_id

    # --- the contact group ---------------------------------------------------------------

    async def _group_slot(
        self,
        client_id: str,
        contact_id: str,
        cmd: c.Command,
        now: datetime,
        own: Callable[[Relationship], Refusal | None],
    ) -> Refusal | None:
        """Take a slot for this contact in each of the account's contact groups, or the first
        group's refusal (None when the account is in no group, or its own policy refuses: that
        refusal is the account's). A later group's refusal leaves the earlier slots taken."""
        relationship = await self.aggregates.get(Relationship, client_id)
        if not relationship.contact_groups:
            return None
        try:
            if own(relationship) is not None:
                return None
        except DomainRuleViolation:
            return None  # the relationship answers it (a follow-up already done, say)
        for group_id in relationship.contact_groups:
            refused = await self._take_slot(group_id, relationship, contact_id, cmd, now)
            if refused is not None:
                return refused
        return None

    async def _take_slot(
        self, group_id: str, relationship: Relationship, contact_id: str, cmd: c.Command, now: datetime
    ) -> Refusal | None:
        client_id = relationship.id
        group = await self.aggregates.get(ContactGroup, group_id)
        if group.holds(contact_id):
            return None  # a retry of a contact that has its slot
        accounts: dict[str, ContactState] = {client_id: relationship.contact}
        for member in group.members:
            if member != client_id:
                try:
                    accounts[member] = (await self.aggregates.get(Relationship, member)).contact
                except NotFound:
                    pass  # not started in follow-up yet: no policy of its own to add
        written = await self.aggregates.update(
            ContactGroup,
            group.id,
            cmd,
            lambda g: g.take(client_id, contact_id, relationship.account_manager, now, accounts),
            event_ids=lambda g, n: derived_event_id(contact_id, f"group-slot:{group_id}:{n}"),
        )
        return written.outcome

    # --- contacts and satisfaction ---------------------------------------------------

    async def delegate_management(self, cmd: c.DelegateManagement) -> Written:
        return await self._update(cmd.client_id, cmd, lambda r: r.delegate(cmd.managed_by, cmd.actor))

    async def record_contact(self, cmd: c.RecordContact) -> Written:
        client_id = await self._client_of("follow-up", cmd.follow_up_id)
        contact_id = self.aggregates.new_id(cmd, "contact")
        now = self.clock()
        group_refused = await self._group_slot(
            client_id, contact_id, cmd, now, lambda r: r.contact_refusal(cmd.follow_up_id, now, cmd.channel)
        )
        return await self._update(
            client_id,
            cmd,
            lambda r: r.record_contact(
                contact_id,
                cmd.follow_up_id,
                channel=cmd.channel,
                outcome=cmd.outcome,
                note=cmd.note,
                now=now,
                by=cmd.actor,
                next_review_id=derived_event_id(cmd.follow_up_id, "next-review"),
                group_refused=group_refused,
            ),
            ids={"follow_up_id": cmd.follow_up_id, "contact_id": contact_id},
        )

    async def record_satisfaction(self, cmd: c.RecordSatisfaction) -> Written:
        recovery = (self.aggregates.new_id(cmd, "recovery"), self.policies.recovery)  # opened only for a score of 1-2
        return await self._update(
            cmd.client_id,
            cmd,
            lambda r: r.record_satisfaction(
                cmd.score, cmd.comment, cmd.request_id, self.clock(), cmd.actor, recovery=recovery
            ),
        )

    # --- recovery before selling ----------------------------------------------------------

    async def close_recovery(self, cmd: c.CloseRecovery) -> Written:
        client_id = await self._client_of("recovery", cmd.recovery_id)
        return await self._update(
            client_id,
            cmd,
            lambda r: r.close_recovery(cmd.recovery_id, cmd.actions_taken, cmd.client_answer, self.clock(), cmd.actor),
            ids={"recovery_id": cmd.recovery_id},
        )

    async def acknowledge_brief(self, cmd: c.AcknowledgeBrief) -> Written:
        """Once per brief: reads racing to record it conflict on the relationship, and the
        second finds it recorded."""
        require_uuid(cmd.client_id, "client")
        return await self._update(cmd.client_id, cmd, lambda r: r.acknowledge_brief(cmd.how, self.clock(), cmd.actor))

    # --- opportunities -------------------------------------------------------------------

    async def _on_opportunity(
        self, opportunity_id: str, cmd: c.Command, decide: Callable[[Relationship], Any]
    ) -> Written:
        client_id = await self._client_of("opportunity", opportunity_id)
        return await self._update(client_id, cmd, decide, ids={"opportunity_id": opportunity_id})

    async def offer(self, cmd: c.OfferOpportunity) -> Written:
        contact_id = self.aggregates.new_id(cmd, "contact")
        client_id = await self._client_of("opportunity", cmd.opportunity_id)
        now = self.clock()
        group_refused = await self._group_slot(
            client_id, contact_id, cmd, now, lambda r: r.offer_refusal(cmd.opportunity_id, now, cmd.channel)
        )
        return await self._update(
            client_id,
            cmd,
            lambda r: r.offer(cmd.opportunity_id, contact_id, cmd.channel, cmd.note, now, cmd.actor, group_refused),
            ids={"opportunity_id": cmd.opportunity_id},
        )

    async def decline(self, cmd: c.DeclineOpportunity) -> Written:
        days = self.policies.decline_cool_down_days
        return await self._on_opportunity(
            cmd.opportunity_id, cmd, lambda r: r.decline(cmd.opportunity_id, cmd.reason, self.clock(), days)
        )

    async def estimate(self, cmd: c.EstimateOpportunity) -> Written:
        return await self._on_opportunity(
            cmd.opportunity_id, cmd, lambda r: r.estimate(cmd.opportunity_id, cmd.value, self.clock(), cmd.actor)
        )

    async def win(self, cmd: c.WinOpportunity) -> Written:
        days = self.policies.outcome_review_after_days
        review_id = derived_event_id(cmd.opportunity_id, "outcome-review")
        return await self._on_opportunity(
            cmd.opportunity_id,
            cmd,
            lambda r: r.win(cmd.opportunity_id, cmd.note, self.clock(), days, review_id, cmd.agreed),
        )

    async def review_outcome(self, cmd: c.ReviewOutcome) -> Written:
        return await self._on_opportunity(
            cmd.opportunity_id,
            cmd,
            lambda r: r.review_outcome(
                cmd.opportunity_id, cmd.delivered_value, cmd.note, self.clock(), cmd.actor, cmd.realised
            ),
        )

    # --- programs ---------------------------------------------------------------------------

    async def enrol(self, cmd: c.EnrolInProgram) -> Written:
        program_id = self.aggregates.new_id(cmd, "program")
        p = self.policies
        starts = cmd.starts_on or self.clock().date()

        def decide(r: Relationship) -> None:
            r.enrol(
                program_id,
                cmd.name,
                starts,
                cmd.terms,
                cmd.revenue if cmd.revenue is not None else r.annual_revenue,
                p.fee_tiers,
                p.currency,
                p.program_lead_days,
                (derived_event_id(program_id, "notice"), derived_event_id(program_id, "renewal")),
            )

        return await self._update(cmd.client_id, cmd, decide, ids={"program_id": program_id})

    async def cancel_program(self, cmd: c.CancelProgram) -> Written:
        client_id = await self._client_of("program", cmd.program_id)
        return await self._update(
            client_id,
            cmd,
            lambda r: r.cancel_program(cmd.program_id, self.clock().date(), cmd.reason),
            ids={"program_id": cmd.program_id},
        )

    async def end_program(self, cmd: c.EndProgram) -> Written:
        client_id = await self._client_of("program", cmd.program_id)
        return await self._update(
            client_id,
            cmd,
            lambda r: r.end_program(cmd.program_id, self.clock().date(), cmd.reason, cmd.actor),
            ids={"program_id": cmd.program_id},
        )

    async def switch_program(self, cmd: c.SwitchProgram) -> Written:
        client_id = await self._client_of("program", cmd.program_id)
        new_id = self.aggregates.new_id(cmd, "program")
        p = self.policies

        def decide(r: Relationship) -> None:
            r.switch_program(
                cmd.program_id,
                new_id,
                self.clock().date(),
                cmd.reason,
                cmd.actor,
                name=cmd.name,
                terms=cmd.terms,
                revenue=cmd.revenue if cmd.revenue is not None else r.annual_revenue,
                fee_tiers=p.fee_tiers,
                currency=p.currency,
                lead_days=p.program_lead_days,
                follow_up_ids=(derived_event_id(new_id, "notice"), derived_event_id(new_id, "renewal")),
            )

        return await self._update(client_id, cmd, decide, ids={"program_id": new_id})

    # --- complaints -------------------------------------------------------------------------

    async def open_complaint(self, cmd: c.OpenComplaint) -> Written:
        require_uuid(cmd.client_id, "client")
        complaint_id = self.aggregates.new_id(cmd, "complaint")
        concerns = {"request_id": cmd.request_id, "work_order_id": cmd.work_order_id, "program_id": cmd.program_id}

        def decide(r: Relationship) -> None:
            r.open_complaint(
                complaint_id,
                category=cmd.category,
                severity=cmd.severity,
                description=cmd.description,
                concerns=concerns,
                deadlines=self.policies.complaint_deadlines,
                now=self.clock(),
                by=cmd.actor,
            )

        return await self._update(cmd.client_id, cmd, decide, ids={"complaint_id": complaint_id})

    async def _on_complaint(self, complaint_id: str, cmd: c.Command, decide: Callable[[Relationship], Any]) -> Written:
        client_id = await self._client_of("complaint", complaint_id)
        return await self._update(client_id, cmd, decide, ids={"complaint_id": complaint_id})

    async def acknowledge_complaint(self, cmd: c.AcknowledgeComplaint) -> Written:
        return await self._on_complaint(
            cmd.complaint_id,
            cmd,
            lambda r: r.acknowledge_complaint(cmd.complaint_id, cmd.response, self.clock(), cmd.actor),
        )

    async def assign_complaint(self, cmd: c.AssignComplaint) -> Written:
        return await self._on_complaint(
            cmd.complaint_id,
            cmd,
            lambda r: r.assign_complaint(cmd.complaint_id, cmd.department, self.clock(), cmd.actor),
        )

    async def resolve_complaint(self, cmd: c.ResolveComplaint) -> Written:
        return await self._on_complaint(
            cmd.complaint_id,
            cmd,
            lambda r: r.resolve_complaint(cmd.complaint_id, cmd.resolution, cmd.root_cause, self.clock(), cmd.actor),
        )

    async def confirm_complaint(self, cmd: c.ConfirmComplaint) -> Written:
        return await self._on_complaint(
            cmd.complaint_id, cmd, lambda r: r.confirm_complaint(cmd.complaint_id, self.clock(), cmd.actor)
        )

    async def reopen_complaint(self, cmd: c.ReopenComplaint) -> Written:
        deadlines = self.policies.complaint_deadlines
        return await self._on_complaint(
            cmd.complaint_id,
            cmd,
            lambda r: r.reopen_complaint(cmd.complaint_id, cmd.reason, deadlines, self.clock(), cmd.actor),
        )

    async def record_complaint_breaches(self, cmd: c.RecordComplaintBreaches) -> int:
        """What the deadline scheduler records: each missed deadline once (event ids derived from the case)."""
        written = await self._update(
            cmd.client_id,
            cmd,
            lambda r: r.record_breaches(cmd.complaint_id, self.clock()),
            event_ids=lambda r, n: derived_event_id(
                cmd.complaint_id, f"breach:{r.pending[n].deadline}:{r.pending[n].round}"
            ),
        )
        return written.appended

    # --- time: what the planner records (deterministic ids, so replicas never double up) -----

    async def retier(self, cmd: c.SetTier) -> bool:
        rules = self.policies.tiers
        today = self.clock().date()
        client_id = cmd.client_id
        written = await self._update(
            client_id,
            cmd,
            lambda r: r.set_tier(
                cmd.tier,
                rules.review_days(cmd.tier),
                cmd.revenue,
                cmd.reason,
                today,
                derived_event_id(client_id, f"review:{r.version}"),
            ),
            event_ids=lambda r, n: derived_event_id(client_id, f"tier:{r.version}:{n}"),
        )
        return written.appended > 0

    async def schedule_reactivation(self, cmd: c.ScheduleReactivation) -> bool:
        follow_up_id = reactivation_id(cmd.client_id, cmd.quiet_from)
        today = self.clock().date()
        written = await self._update(
            cmd.client_id,
            cmd,
            lambda r: r.wake_up(follow_up_id, today, cmd.quiet_from.date(), cmd.after_days),
            event_ids=lambda r, n: derived_event_id(follow_up_id, f"scheduled:{n}"),
        )
        return written.appended > 0

    async def schedule_at_risk(self, cmd: c.FlagAtRisk) -> bool:
        follow_up_id = at_risk_id(cmd.client_id, cmd.since)
        today = self.clock().date()
        written = await self._update(
            cmd.client_id,
            cmd,
            lambda r: r.flag_at_risk(follow_up_id, today, cmd.why),
            event_ids=lambda r, n: derived_event_id(follow_up_id, f"scheduled:{n}"),
        )
        return written.appended > 0

    async def mark_review_overdue(self, cmd: c.MarkReviewOverdue) -> bool:
        today = self.clock().date()
        written = await self._update(
            cmd.client_id,
            cmd,
            lambda r: r.note_review_overdue(cmd.follow_up_id, today),
            event_ids=lambda r, n: derived_event_id(
                cmd.follow_up_id, f"overdue:{r.follow_ups[cmd.follow_up_id].due_on.isoformat()}:{n}"
            ),
        )
        return written.appended > 0


def at_risk_id(client_id: str, since: datetime) -> str:
    """One at-risk follow-up per spell: the id is derived from when the spell began."""
    return derived_event_id(client_id, f"at-risk:{since.astimezone(timezone.utc).isoformat(timespec='seconds')}")


def reactivation_id(client_id: str, quiet_from: datetime) -> str:
    """One reactivation per quiet spell: the id is derived from when the client went quiet."""
    return derived_event_id(
        client_id, f"reactivation:{quiet_from.astimezone(timezone.utc).isoformat(timespec='seconds')}"
    )


__all__ = ["FollowupApplication", "Policies", "at_risk_id", "reactivation_id", "utc_now"]
