"""The Relationship aggregate: everything follow-up knows and promises about one client.

One aggregate per client, so the contact policy is decided on one consistent
history: two account managers contacting the same client at once cannot both
slip under the frequency cap (the second append conflicts and is decided again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.domain import Aggregate, DomainRuleViolation, NotFound

from baton_followup.domain.complaints import Complaint, ComplaintCases
from baton_followup.domain.concerns import LateAndStuck, WorkConcern
from baton_followup.domain.contact_policy import ContactState, Refusal, refusal
from baton_followup.domain.next_needs import NextNeedRule
from baton_followup.domain.recovery import RecoveryRules, is_unhappy
from baton_followup.domain.one_voice import managed_elsewhere
from baton_followup.domain.programs import ProgramDates, ProgramTerms, cancellation_effective_on, program_dates
from baton_followup.domain.tiers import FeeTier, monthly_fee

DONE_OUTCOMES = {"reached", "stop"}


@dataclass
class FollowUp:
    id: str
    kind: str
    due_on: date
    status: str = "open"  # open | done | closed
    opportunity_id: str | None = None
    program_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass
class Opportunity:
    id: str
    kind: str
    title: str
    reason: str
    status: str = "identified"  # identified | offered | declined | won | reviewed
    value: Money | None = None  # the latest estimate; once won, the agreed value


@dataclass
class Program:
    id: str
    dates: ProgramDates
    notice_days: int
    status: str = "active"  # active | cancelled | ended


class PolicyRefused(DomainRuleViolation):
    """The contact policy refused a contact; the suppression is recorded before this is raised."""

    def __init__(self, refused: Refusal) -> None:
        super().__init__(f"the client's contact policy refuses this contact: {refused.reason}")
        self.refusal = refused
        self.details = {"refusal": refused.code, "suppression_recorded": True}


class Relationship(ComplaintCases, LateAndStuck, Aggregate):
    aggregate_type = "client"

    @classmethod
    def missing(cls, aggregate_id: str) -> str:
        return f"client {aggregate_id} not found in follow-up"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.started = False
        self.client_name = ""
        self.account_manager = ""
        self.annual_revenue: Decimal | None = None
        self.tier = "standard"
        self.review_every_days: int | None = None
        self.contact = ContactState()
        self.follow_ups: dict[str, FollowUp] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.programs: dict[str, Program] = {}
        self.brief_ids: set[str] = set()
        self.latest_brief: str | None = None  # the brief of the current account manager's handover
        self.acknowledged_briefs: set[str] = set()
        self.recoveries: dict[str, str] = {}  # recovery id -> open | closed
        self.complaints: dict[str, Complaint] = {}
        self.contact_groups: list[str] = []  # the accounts of one person, or of one organisation, decided together
        self.managed_by: str | None = None  # someone else manages the account: no outreach
        self.work_concerns: dict[str, WorkConcern] = {}  # work order id -> overdue / blocked in delivery
        self.overdue_reviews: set[tuple[str, date]] = set()  # (review follow-up id, due date) recorded late

    # --- what intake tells us -------------------------------------------------------

    def start(
        self,
        *,
        client_name: str,
        account_manager: str,
        policy: ContactPolicy,
        revenue: Decimal | None,
        contact_group: str | None = None,
    ) -> None:
        if self.started:
            return
        self._record(
            ev.RelationshipStarted(
                client_id=self.id,
                client_name=client_name,
                account_manager=account_manager,
                contact_policy=policy,
                annual_revenue=revenue,
                contact_group=contact_group,
            )
        )

    def join_group(self, group_id: str, parent_organisation: str) -> None:
        if group_id not in self.contact_groups:
            self._record(
                ev.RelationshipGrouped(client_id=self.id, group_id=group_id, parent_organisation=parent_organisation)
            )

    def delegate(self, managed_by: str | None, by: str) -> None:
        """Someone else manages the account (``None``: we do again); recorded when it changes."""
        if managed_by != self.managed_by:
            self._record(ev.ManagementDelegated(client_id=self.id, managed_by=managed_by, by=by))

    def set_tier(
        self, tier: str, review_every_days: int, revenue: Decimal | None, reason: str, today: date, review_id: str
    ) -> None:
        """Record the tier if it (or the revenue behind it) changed, and keep one review scheduled
        on the cadence: a tighter cadence brings the open review forward."""
        if (tier, review_every_days, revenue) != (self.tier, self.review_every_days, self.annual_revenue):
            self._record(
                ev.ClientTiered(
                    client_id=self.id,
                    tier=tier,
                    review_every_days=review_every_days,
                    annual_revenue=revenue,
                    reason=reason,
                )
            )
        due = today + timedelta(days=review_every_days)
        review = self._open("review")
        if review is None:
            self.schedule(review_id, "review", due, f"{tier} account: a review every {review_every_days} days")
        elif review.due_on > due:
            self._record(
                ev.FollowUpRescheduled(
                    client_id=self.id,
                    follow_up_id=review.id,
                    due_on=due,
                    reason=f"now a {tier} account: a review every {review_every_days} days",
                )
            )

    def adopt_policy(self, policy: ContactPolicy) -> None:
        if policy != self.contact.policy or self.contact.stopped_on is not None:
            self._record(ev.ContactPolicyAdopted(client_id=self.id, contact_policy=policy))

    def hand_over(
        self,
        brief_id: str,
        account_manager: str,
        previous: str | None,
        brief: dict[str, Any],
        follow_up_id: str,
        today: date,
    ) -> None:
        if brief_id in self.brief_ids:
            return
        self._record(
            ev.HandoverBriefPrepared(
                client_id=self.id,
                brief_id=brief_id,
                account_manager=account_manager,
                previous_account_manager=previous,
                brief=brief,
            )
        )
        self.schedule(
            follow_up_id,
            "introduction",
            today,
            "introduce yourself as the new account manager; read the handover brief first",
            brief_id=brief_id,
        )

    def acknowledge_brief(self, how: str, now: datetime, by: str) -> str:
        """The current account manager has the latest handover brief (once per brief)."""
        if self.latest_brief is None:
            raise DomainRuleViolation(
                f"client {self.id} has no handover brief to acknowledge: no account manager has taken it over yet"
            )
        if self.latest_brief not in self.acknowledged_briefs:
            self._record(
                ev.HandoverBriefAcknowledged(
                    client_id=self.id,
                    brief_id=self.latest_brief,
                    account_manager=self.account_manager,
                    how=how,
                    acknowledged_at=now,
                    by=by,
                )
            )
        return self.latest_brief

    # --- follow-ups and contacts ---------------------------------------------------

    def schedule(self, follow_up_id: str, kind: str, due_on: date, reason: str, **links: str | None) -> None:
        if follow_up_id in self.follow_ups:
            return  # recorded once, whatever redelivers its cause
        self._record(
            ev.FollowUpScheduled(
                client_id=self.id, follow_up_id=follow_up_id, kind=kind, due_on=due_on, reason=reason, **links
            )
        )

    def wake_up(self, follow_up_id: str, today: date, quiet_since: date, after_days: int) -> None:
        """A reactivation follow-up for a dormant client, unless one is already open."""
        if self._open("reactivation") is None:
            self.schedule(
                follow_up_id,
                "reactivation",
                today,
                f"no new request since {quiet_since.isoformat()} (over {after_days} days): wake the client up",
            )

    def flag_at_risk(self, follow_up_id: str, today: date, why: str) -> None:
        """An at-risk follow-up for the account manager, once per spell (the id comes from the spell)."""
        if self._open("at_risk") is None:
            self.schedule(follow_up_id, "at_risk", today, f"the client is at risk: {why}; act before they say so")

    def follow_up(self, follow_up_id: str) -> FollowUp:
        try:
            return self.follow_ups[follow_up_id]
        except KeyError:
            raise NotFound(f"follow-up {follow_up_id} not found") from None

    def refusal(self, now: datetime, channel: str | None = None, offer_kind: str | None = None) -> Refusal | None:
        return managed_elsewhere(self.managed_by) or refusal(self.contact, now, channel=channel, offer_kind=offer_kind)

    def contact_refusal(self, follow_up_id: str, now: datetime, channel: str) -> Refusal | None:
        """What this account's own policy says of a contact on the follow-up (which must be open)."""
        follow_up = self.follow_up(follow_up_id)
        if follow_up.status != "open":
            raise DomainRuleViolation(f"follow-up {follow_up_id} is already {follow_up.status}")
        offer_kind = (
            self.opportunities[follow_up.opportunity_id].kind
            if follow_up.opportunity_id in self.opportunities
            else None
        )
        return self.refusal(now, channel, offer_kind)

    def offer_refusal(self, opportunity_id: str, now: datetime, channel: str) -> Refusal | None:
        """What this account's own policy says of offering the opportunity (which must be identified)."""
        return self.refusal(now, channel, self.opportunity(opportunity_id, "identified").kind)

    def record_contact(
        self,
        contact_id: str,
        follow_up_id: str,
        *,
        channel: str,
        outcome: str,
        note: str,
        now: datetime,
        by: str,
        next_review_id: str,
        group_refused: Refusal | None = None,
    ) -> Refusal | None:
        """Make the contact if the policy (and the contact group's, ``group_refused``) allows it;
        otherwise record the suppression and return why."""
        follow_up = self.follow_up(follow_up_id)
        refused = self.contact_refusal(follow_up_id, now, channel) or group_refused
        if refused:
            self._suppress(
                refused, now, by, follow_up_id=follow_up_id, channel=channel, opportunity_id=follow_up.opportunity_id
            )
            return refused
        self._record(
            ev.ContactRecorded(
                client_id=self.id,
                contact_id=contact_id,
                follow_up_id=follow_up_id,
                opportunity_id=follow_up.opportunity_id,
                channel=channel,
                outcome=outcome,
                note=note,
                contacted_at=now,
                by=by,
            )
        )
        if follow_up.kind == "review" and outcome in DONE_OUTCOMES and outcome != "stop" and self.review_every_days:
            self.schedule(
                next_review_id,
                "review",
                now.date() + timedelta(days=self.review_every_days),
                f"{self.tier} account: a review every {self.review_every_days} days",
            )
        return None

    def _suppress(self, refused: Refusal, now: datetime, by: str, **about: str | None) -> None:
        self._record(
            ev.ContactSuppressed(
                client_id=self.id, code=refused.code, reason=refused.reason, suppressed_at=now, by=by, **about
            )
        )

    def record_satisfaction(
        self,
        score: int,
        comment: str,
        request_id: str | None,
        now: datetime,
        by: str,
        recovery: tuple[str, RecoveryRules] | None = None,
    ) -> None:
        """Record the score; a score of 1-2 opens a recovery when ``recovery`` (its id, the rules) is given."""
        self._record(
            ev.SatisfactionRecorded(
                client_id=self.id, score=score, comment=comment, request_id=request_id, recorded_at=now, by=by
            )
        )
        for follow_up in list(self.follow_ups.values()):
            if (
                follow_up.kind == "satisfaction"
                and follow_up.status == "open"
                and request_id in (None, follow_up.request_id)
            ):
                self._close(follow_up.id, "satisfaction recorded")
        if recovery is not None and is_unhappy(score):
            recovery_id, rules = recovery
            self.open_recovery(
                recovery_id,
                "low_satisfaction",
                f"the client rated {score}/5",
                comment,
                now,
                rules,
                score=score,
                request_id=request_id,
            )

    # --- recovery before selling ---------------------------------------------------

    def open_recovery(
        self,
        recovery_id: str,
        cause: str,
        reason: str,
        feedback: str,
        now: datetime,
        rules: RecoveryRules,
        score: int | None = None,
        request_id: str | None = None,
    ) -> None:
        if recovery_id in self.recoveries:
            return  # once per cause, whatever redelivers it
        due = rules.due_on(now.date(), self.tier)
        self._record(
            ev.RecoveryOpened(
                client_id=self.id,
                recovery_id=recovery_id,
                cause=cause,
                reason=reason,
                feedback=feedback,
                score=score,
                request_id=request_id,
                due_on=due,
                opened_at=now,
            )
        )
        self.schedule(
            recovery_id,
            "recovery",
            due,
            f"recover the client before any offer: {reason}" + (f" ({feedback})" if feedback else ""),
            request_id=request_id,
        )

    def close_recovery(self, recovery_id: str, actions_taken: str, client_answer: str, now: datetime, by: str) -> None:
        status = self.recoveries.get(recovery_id)
        if status is None:
            raise NotFound(f"recovery {recovery_id} not found")
        if status != "open":
            raise DomainRuleViolation(f"recovery {recovery_id} is already {status}")
        self._record(
            ev.RecoveryClosed(
                client_id=self.id,
                recovery_id=recovery_id,
                actions_taken=actions_taken,
                client_answer=client_answer,
                closed_at=now,
                by=by,
            )
        )
        if self.follow_ups[recovery_id].status == "open":
            self._close(recovery_id, "recovery closed")

    def _open(self, kind: str, **links: str) -> FollowUp | None:
        for follow_up in self.follow_ups.values():
            if (
                follow_up.kind == kind
                and follow_up.status == "open"
                and all(getattr(follow_up, k) == v for k, v in links.items())
            ):
                return follow_up
        return None

    def _close(self, follow_up_id: str, reason: str) -> None:
        self._record(ev.FollowUpClosed(client_id=self.id, follow_up_id=follow_up_id, reason=reason))

    def _close_all(self, reason: str, **links: str) -> None:
        for follow_up in list(self.follow_ups.values()):
            if follow_up.status == "open" and all(getattr(follow_up, k) == v for k, v in links.items()):
                self._close(follow_up.id, reason)

    # --- opportunities -------------------------------------------------------------

    def identify(
        self, opportunity_id: str, rule: NextNeedRule, request_id: str | None, follow_up_id: str, today: date
    ) -> None:
        if opportunity_id in self.opportunities:
            return
        self._record(
            ev.OpportunityIdentified(
                client_id=self.id,
                opportunity_id=opportunity_id,
                kind=rule.kind,
                title=rule.title,
                reason=rule.reason,
                rule_id=rule.id,
                request_id=request_id,
            )
        )
        self.schedule(
            follow_up_id,
            "offer",
            today + timedelta(days=rule.offer_after_days),
            f"offer: {rule.title} ({rule.reason})",
            opportunity_id=opportunity_id,
            request_id=request_id,
        )

    def opportunity(self, opportunity_id: str, *expected: str) -> Opportunity:
        opportunity = self.opportunities.get(opportunity_id)
        if opportunity is None:
            raise NotFound(f"opportunity {opportunity_id} not found")
        if expected and opportunity.status not in expected:
            raise DomainRuleViolation(
                f"opportunity {opportunity_id} is {opportunity.status}; this needs it {' or '.join(expected)}"
            )
        return opportunity

    def offer(
        self,
        opportunity_id: str,
        contact_id: str,
        channel: str,
        note: str,
        now: datetime,
        by: str,
        group_refused: Refusal | None = None,
    ) -> Refusal | None:
        opportunity = self.opportunity(opportunity_id, "identified")
        refused = self.offer_refusal(opportunity_id, now, channel) or group_refused
        offer_follow_up = self._open("offer", opportunity_id=opportunity_id)
        if refused:
            self._suppress(
                refused,
                now,
                by,
                follow_up_id=offer_follow_up and offer_follow_up.id,
                channel=channel,
                opportunity_id=opportunity_id,
            )
            return refused
        self._record(
            ev.OpportunityOffered(
                client_id=self.id,
                opportunity_id=opportunity_id,
                kind=opportunity.kind,
                channel=channel,
                offered_at=now,
                by=by,
            )
        )
        self._record(
            ev.ContactRecorded(
                client_id=self.id,
                contact_id=contact_id,
                follow_up_id=offer_follow_up and offer_follow_up.id,
                opportunity_id=opportunity_id,
                channel=channel,
                outcome="reached",
                note=note or f"offered: {opportunity.title}",
                contacted_at=now,
                by=by,
            )
        )
        return None

    def estimate(self, opportunity_id: str, value: Money, now: datetime, by: str) -> None:
        opportunity = self.opportunity(opportunity_id, "identified", "offered")
        self._record(
            ev.OpportunityValued(
                client_id=self.id,
                opportunity_id=opportunity_id,
                kind=opportunity.kind,
                estimated_value=value.amount,
                currency=value.currency,
                valued_at=now,
                by=by,
            )
        )

    def decline(self, opportunity_id: str, reason: str, now: datetime, cool_down_days: int) -> None:
        opportunity = self.opportunity(opportunity_id, "offered")
        self._record(
            ev.OpportunityDeclined(
                client_id=self.id,
                opportunity_id=opportunity_id,
                kind=opportunity.kind,
                reason=reason,
                declined_at=now,
                cool_down_until=now.date() + timedelta(days=cool_down_days),
            )
        )
        self._close_all("the offer was declined", opportunity_id=opportunity_id)

    def win(
        self,
        opportunity_id: str,
        note: str,
        now: datetime,
        outcome_review_days: int,
        follow_up_id: str,
        agreed: Money | None = None,
    ) -> None:
        """``agreed``: what the client agreed to pay; not said, the latest estimate is what they said yes to."""
        opportunity = self.opportunity(opportunity_id, "offered")
        review_on = now.date() + timedelta(days=outcome_review_days)
        estimate = opportunity.value
        if agreed and estimate and agreed.currency != estimate.currency:
            raise DomainRuleViolation(
                f"the opportunity is estimated in {estimate.currency}: give the agreed value in it, or estimate again first"
            )
        agreed = agreed or estimate
        self._record(
            ev.OpportunityWon(
                client_id=self.id,
                opportunity_id=opportunity_id,
                kind=opportunity.kind,
                title=opportunity.title,
                need_summary=f"{opportunity.title} (won offer: {opportunity.reason})",
                note=note,
                account_manager=self.account_manager or "unassigned",
                won_at=now,
                outcome_review_on=review_on,
                agreed_value=agreed and agreed.amount,
                currency=agreed and agreed.currency,
            )
        )
        self._close_all("the offer was won", opportunity_id=opportunity_id)
        self.schedule(
            follow_up_id,
            "outcome_review",
            review_on,
            f"did '{opportunity.title}' deliver what was promised?",
            opportunity_id=opportunity_id,
        )

    def review_outcome(
        self,
        opportunity_id: str,
        delivered_value: str,
        note: str,
        now: datetime,
        by: str,
        realised: Money | None = None,
    ) -> None:
        opportunity = self.opportunity(opportunity_id, "won")
        agreed = opportunity.value
        if realised and agreed and realised.currency != agreed.currency:
            raise DomainRuleViolation(
                f"the realised value is compared with the agreed {agreed.amount} {agreed.currency}: give it in {agreed.currency}"
            )
        self._record(
            ev.OpportunityOutcomeReviewed(
                client_id=self.id,
                opportunity_id=opportunity_id,
                delivered_value=delivered_value,
                note=note,
                reviewed_at=now,
                by=by,
                realised_value=realised and realised.amount,
                currency=realised and realised.currency,
            )
        )
        self._close_all("outcome reviewed", opportunity_id=opportunity_id)

    # --- programs ------------------------------------------------------------------

    def enrol(
        self,
        program_id: str,
        name: str,
        starts_on: date,
        terms: ProgramTerms,
        revenue: Decimal | None,
        fee_tiers: tuple[FeeTier, ...],
        currency: str,
        lead_days: int,
        follow_up_ids: tuple[str, str],
    ) -> None:
        if revenue is None:
            raise DomainRuleViolation(
                "the client's trailing-12-month revenue is unknown: give trailing_12_month_revenue, "
                "or record the client's revenue in intake first"
            )
        if any(p.status == "active" and p.dates.ends_on > starts_on for p in self.programs.values()):
            raise DomainRuleViolation(f"client {self.id} already has an active program on {starts_on.isoformat()}")
        dates = program_dates(starts_on, terms)
        self._record(
            ev.ProgramEnrolled(
                client_id=self.id,
                program_id=program_id,
                name=name,
                starts_on=starts_on,
                minimum_term_months=terms.minimum_term_months,
                total_term_months=terms.total_term_months,
                notice_days=terms.notice_days,
                minimum_term_ends_on=dates.minimum_term_ends_on,
                ends_on=dates.ends_on,
                notice_deadline=dates.notice_deadline,
                trailing_12_month_revenue=revenue,
                monthly_fee=monthly_fee(revenue, fee_tiers),
                currency=currency,
            )
        )
        notice_id, renewal_id = follow_up_ids
        self.schedule(
            notice_id,
            "program_notice",
            dates.notice_deadline - timedelta(days=lead_days),
            f"{name}: notice deadline {dates.notice_deadline.isoformat()}: ask whether the client renews",
            program_id=program_id,
        )
        self.schedule(
            renewal_id,
            "program_renewal",
            dates.ends_on - timedelta(days=lead_days),
            f"{name}: renews on {dates.ends_on.isoformat()}",
            program_id=program_id,
        )

    def cancel_program(self, program_id: str, requested_on: date, reason: str) -> None:
        program = self.programs.get(program_id)
        if program is None:
            raise NotFound(f"program {program_id} not found")
        if program.status != "active":
            raise DomainRuleViolation(f"program {program_id} is already {program.status}")
        if requested_on < program.dates.minimum_term_ends_on:
            raise DomainRuleViolation(
                f"program {program_id} is inside its minimum term: cancellation possible from "
                f"{program.dates.minimum_term_ends_on.isoformat()}"
            )
        self._record(
            ev.ProgramCancelled(
                client_id=self.id,
                program_id=program_id,
                requested_on=requested_on,
                effective_on=cancellation_effective_on(program.dates, program.notice_days, requested_on),
                reason=reason,
            )
        )
        self._close_all("the program was cancelled", program_id=program_id)

    def end_program(self, program_id: str, today: date, reason: str, by: str, switched_to: str | None = None) -> None:
        """The provider ends an active program today, whatever its terms (they bind the client, not us)."""
        program = self.programs.get(program_id)
        if program is None:
            raise NotFound(f"program {program_id} not found")
        if program.status != "active":
            raise DomainRuleViolation(
                f"program {program_id} is {program.status}: only an active program can end or switch"
            )
        self._record(
            ev.ProgramEnded(
                client_id=self.id, program_id=program_id, ended_on=today, reason=reason, by=by, switched_to=switched_to
            )
        )
        self._close_all("the program ended", program_id=program_id)

    def switch_program(
        self, program_id: str, new_program_id: str, today: date, reason: str, by: str, **enrolment
    ) -> None:
        """The client moves to another program from today: the old one ends, the new one starts; both stay in the history."""
        self.end_program(program_id, today, reason, by, switched_to=new_program_id)
        self.enrol(new_program_id, starts_on=today, **enrolment)

    # --- state ---------------------------------------------------------------------

    def _on_RelationshipStarted(self, e: ev.RelationshipStarted) -> None:
        self.started = True
        self.client_name, self.account_manager = e.client_name, e.account_manager
        self.contact.policy, self.annual_revenue = e.contact_policy, e.annual_revenue
        if e.contact_group is not None:
            self.contact_groups.append(e.contact_group)

    def _on_RelationshipGrouped(self, e: ev.RelationshipGrouped) -> None:
        self.contact_groups.append(e.group_id)

    def _on_ManagementDelegated(self, e: ev.ManagementDelegated) -> None:
        self.managed_by = e.managed_by

    def _on_ClientTiered(self, e: ev.ClientTiered) -> None:
        self.tier, self.review_every_days, self.annual_revenue = e.tier, e.review_every_days, e.annual_revenue

    def _on_ContactPolicyAdopted(self, e: ev.ContactPolicyAdopted) -> None:
        self.contact.policy, self.contact.stopped_on = e.contact_policy, None

    def _on_HandoverBriefPrepared(self, e: ev.HandoverBriefPrepared) -> None:
        self.brief_ids.add(e.brief_id)
        self.account_manager = e.account_manager
        self.latest_brief = e.brief_id

    def _on_HandoverBriefAcknowledged(self, e: ev.HandoverBriefAcknowledged) -> None:
        self.acknowledged_briefs.add(e.brief_id)

    def _on_FollowUpScheduled(self, e: ev.FollowUpScheduled) -> None:
        self.follow_ups[e.follow_up_id] = FollowUp(
            e.follow_up_id,
            e.kind,
            e.due_on,
            opportunity_id=e.opportunity_id,
            program_id=e.program_id,
            request_id=e.request_id,
        )

    def _on_FollowUpRescheduled(self, e: ev.FollowUpRescheduled) -> None:
        self.follow_ups[e.follow_up_id].due_on = e.due_on

    def _on_FollowUpClosed(self, e: ev.FollowUpClosed) -> None:
        self.follow_ups[e.follow_up_id].status = "closed"

    def _on_ContactRecorded(self, e: ev.ContactRecorded) -> None:
        self.contact.contacts.append(e.contacted_at)
        if e.outcome == "stop":
            self.contact.stopped_on = e.contacted_at.date()
        follow_up = self.follow_ups.get(e.follow_up_id)
        if follow_up is not None and e.outcome in DONE_OUTCOMES and follow_up.kind != "recovery":
            follow_up.status = "done"  # a recovery stays open until closed with its outcome

    def _on_OpportunityIdentified(self, e: ev.OpportunityIdentified) -> None:
        self.opportunities[e.opportunity_id] = Opportunity(e.opportunity_id, e.kind, e.title, e.reason)

    def _on_OpportunityOffered(self, e: ev.OpportunityOffered) -> None:
        self.opportunities[e.opportunity_id].status = "offered"

    def _on_OpportunityValued(self, e: ev.OpportunityValued) -> None:
        self.opportunities[e.opportunity_id].value = Money(e.estimated_value, e.currency)

    def _on_OpportunityDeclined(self, e: ev.OpportunityDeclined) -> None:
        self.opportunities[e.opportunity_id].status = "declined"
        self.contact.cool_downs[e.kind] = max(e.cool_down_until, self.contact.cool_downs.get(e.kind, e.cool_down_until))

    def _on_OpportunityWon(self, e: ev.OpportunityWon) -> None:
        opportunity = self.opportunities[e.opportunity_id]
        opportunity.status = "won"
        opportunity.value = Money(e.agreed_value, e.currency) if e.agreed_value is not None and e.currency else None

    def _on_OpportunityOutcomeReviewed(self, e: ev.OpportunityOutcomeReviewed) -> None:
        self.opportunities[e.opportunity_id].status = "reviewed"

    def _on_RecoveryOpened(self, e: ev.RecoveryOpened) -> None:
        self.recoveries[e.recovery_id] = "open"
        self.contact.recovering = True

    def _on_RecoveryClosed(self, e: ev.RecoveryClosed) -> None:
        self.recoveries[e.recovery_id] = "closed"
        self.contact.recovering = "open" in self.recoveries.values()

    def _on_ProgramEnrolled(self, e: ev.ProgramEnrolled) -> None:
        dates = ProgramDates(e.starts_on, e.minimum_term_ends_on, e.ends_on, e.notice_deadline)
        self.programs[e.program_id] = Program(e.program_id, dates, e.notice_days)

    def _on_ProgramCancelled(self, e: ev.ProgramCancelled) -> None:
        self.programs[e.program_id].status = "cancelled"

    def _on_ProgramEnded(self, e: ev.ProgramEnded) -> None:
        self.programs[e.program_id].status = "ended"
