"""Command handling for follow-up: load the client's relationship, decide, append, retry on conflict.

Follow-ups, opportunities and programs are addressed by their own ids; the
directory (follow-up's read models) says which client's relationship holds
each. Correlation id = the client id (the relationship is the client's
journey after the sale); causation id = the HTTP call's correlation id.

A contact the policy refuses is still a write: the suppression is appended,
then the refusal is raised (answered 409 with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Protocol

from baton_shared import idempotency
from baton_shared.application import (
    REFUSALS,
    Clock,
    Written,
    answering,
    history_to_decide_on,
    require_uuid,
    utc_now,
)
from baton_shared.domain import NotFound
from baton_shared.contracts.followup import ContactSuppressed
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import ConcurrencyConflict, EventStore, NewEvent
from baton_shared.folded import FoldedAggregates

from baton_followup.domain.complaints import ComplaintDeadlines
from baton_followup.domain import FeeTier, Money, NextNeedRule, PolicyRefused, ProgramTerms, Refusal, Relationship, TierRules



def new_id() -> str:
    return str(uuid.uuid4())


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
    complaint_deadlines: Mapping[str, ComplaintDeadlines] = field(
        default_factory=lambda: {"standard": ComplaintDeadlines("standard", 24, 120)}
    )


class FollowupApplication:
    def __init__(self, store: EventStore, directory: Directory, policies: Policies, clock: Clock = utc_now, attempts: int = 5):
        self.store = store
        self.directory = directory
        self.policies = policies
        self.clock = clock
        self.attempts = attempts
        self.folded = FoldedAggregates()  # a command folds only what was appended since the last one

    async def load(self, client_id: str) -> Relationship:
        return Relationship.from_history(client_id, await self.store.load("client", client_id))

    async def _update(
        self,
        client_id: str,
        decide: Callable[[Relationship], Any],
        *,
        actor: str,
        causation_id: str | None,
        ids: dict[str, Any] | None = None,
        event_ids: Callable[[Relationship, int], str] | None = None,
        must_exist: bool = True,
    ) -> Written:
        """Decide on fresh state and append; a refusal decided is raised after its suppression is stored."""
        keyed = idempotency.keyed(self.store.stream_name, actor) if event_ids is None else None
        if keyed is not None:
            event_ids = lambda _r, n: keyed.event_id(n)  # noqa: E731 - a retried keyed write re-derives them
        maybe_a_retry = keyed is not None and keyed.sent_by_caller  # a caller's key: look for it
        for attempt in range(self.attempts):
            # First on the remembered history, unless a keyed write must look for itself in it.
            first = attempt == 0 and not maybe_a_retry and self.attempts > 1
            history = await history_to_decide_on(self.store, "client", client_id, recall=first)
            relationship = self.folded.fold(Relationship, client_id, history)
            try:
                if must_exist and not relationship.exists:
                    raise NotFound(f"client {client_id} not found in follow-up")
                if maybe_a_retry and (replay := keyed.replay(history.events)) is not None:
                    first = replay.events[0].event
                    if isinstance(first, ContactSuppressed):  # the first answer was a refusal: give it again
                        raise PolicyRefused(Refusal(first.code, first.reason))
                    return Written({"client_id": client_id, **(ids or {})}, self.store.stream_name, replay.last_seq, replay.count)
                outcome = decide(relationship)
            except REFUSALS:
                if history.recalled:
                    continue
                raise
            if history.recalled and not relationship.pending:
                self.folded.keep_unchanged(relationship)
                continue
            written = Written({"client_id": client_id, **(ids or {})}, self.store.stream_name, relationship.version, 0)
            if relationship.pending:
                new = [
                    NewEvent(
                        event, correlation_id=client_id, actor=actor, causation_id=causation_id,
                        **({"event_id": event_ids(relationship, n)} if event_ids else {}),
                    )
                    for n, event in enumerate(relationship.pending)
                ]
                try:
                    with answering(written.ids):
                        result = await self.store.append("client", client_id, relationship.version, new)
                except ConcurrencyConflict:
                    if attempt == self.attempts - 1:
                        raise
                    continue
                self.folded.kept_after(relationship, result)
                written = Written(written.ids, written.stream, result.last_seq, len(new))
            else:
                self.folded.keep_unchanged(relationship)
            if isinstance(outcome, Refusal):
                raise PolicyRefused(outcome)
            return written
        raise AssertionError("unreachable")

    def _new_id(self, actor: str, purpose: str) -> str:
        """A new id; derived from the Idempotency-Key when the HTTP call sent one, so a retry names the same thing."""
        keyed = idempotency.keyed(self.store.stream_name, actor)
        return keyed.id(purpose) if keyed else new_id()

    async def _client_of(self, what: str, item_id: str) -> str:
        require_uuid(item_id, what)
        client_id = await self.directory.client_of(what, item_id)
        if client_id is None:
            raise NotFound(f"{what} {item_id} not found")
        return client_id

    # --- contacts and satisfaction ---------------------------------------------------

    async def record_contact(
        self, follow_up_id: str, channel: str, outcome: str, note: str, actor: str, cause: str | None = None
    ) -> Written:
        client_id = await self._client_of("follow-up", follow_up_id)
        contact_id = self._new_id(actor, "contact")
        return await self._update(
            client_id,
            lambda r: r.record_contact(
                contact_id, follow_up_id, channel=channel, outcome=outcome, note=note, now=self.clock(), by=actor,
                next_review_id=derived_event_id(follow_up_id, "next-review"),
            ),
            actor=actor, causation_id=cause, ids={"follow_up_id": follow_up_id, "contact_id": contact_id},
        )

    async def record_satisfaction(
        self, client_id: str, score: int, comment: str, request_id: str | None, actor: str, cause: str | None = None
    ) -> Written:
        require_uuid(client_id, "client")
        return await self._update(
            client_id, lambda r: r.record_satisfaction(score, comment, request_id, self.clock(), actor),
            actor=actor, causation_id=cause,
        )

    # --- opportunities -------------------------------------------------------------------

    async def _on_opportunity(self, opportunity_id: str, decide: Callable[[Relationship], Any], actor: str, cause: str | None) -> Written:
        client_id = await self._client_of("opportunity", opportunity_id)
        return await self._update(client_id, decide, actor=actor, causation_id=cause, ids={"opportunity_id": opportunity_id})

    async def offer(self, opportunity_id: str, channel: str, note: str, actor: str, cause: str | None = None) -> Written:
        contact_id = self._new_id(actor, "contact")
        return await self._on_opportunity(
            opportunity_id, lambda r: r.offer(opportunity_id, contact_id, channel, note, self.clock(), actor), actor, cause
        )

    async def decline(self, opportunity_id: str, reason: str, actor: str, cause: str | None = None) -> Written:
        days = self.policies.decline_cool_down_days
        return await self._on_opportunity(opportunity_id, lambda r: r.decline(opportunity_id, reason, self.clock(), days), actor, cause)

    async def estimate(self, opportunity_id: str, value: Money, actor: str, cause: str | None = None) -> Written:
        return await self._on_opportunity(opportunity_id, lambda r: r.estimate(opportunity_id, value, self.clock(), actor), actor, cause)

    async def win(
        self, opportunity_id: str, note: str, actor: str, cause: str | None = None, agreed: Money | None = None
    ) -> Written:
        days = self.policies.outcome_review_after_days
        review_id = derived_event_id(opportunity_id, "outcome-review")
        return await self._on_opportunity(
            opportunity_id, lambda r: r.win(opportunity_id, note, self.clock(), days, review_id, agreed), actor, cause
        )

    async def review_outcome(
        self, opportunity_id: str, delivered_value: str, note: str, actor: str, cause: str | None = None,
        realised: Money | None = None,
    ) -> Written:
        return await self._on_opportunity(
            opportunity_id,
            lambda r: r.review_outcome(opportunity_id, delivered_value, note, self.clock(), actor, realised),
            actor, cause,
        )

    # --- programs ---------------------------------------------------------------------------

    async def enrol(
        self, client_id: str, name: str, starts_on: date | None, terms: ProgramTerms, revenue: Decimal | None,
        actor: str, cause: str | None = None,
    ) -> Written:
        require_uuid(client_id, "client")
        program_id = self._new_id(actor, "program")
        p = self.policies
        starts = starts_on or self.clock().date()

        def decide(r: Relationship) -> None:
            r.enrol(
                program_id, name, starts, terms, revenue if revenue is not None else r.annual_revenue, p.fee_tiers,
                p.currency, p.program_lead_days,
                (derived_event_id(program_id, "notice"), derived_event_id(program_id, "renewal")),
            )

        return await self._update(client_id, decide, actor=actor, causation_id=cause, ids={"program_id": program_id})

    async def cancel_program(self, program_id: str, reason: str, actor: str, cause: str | None = None) -> Written:
        client_id = await self._client_of("program", program_id)
        return await self._update(
            client_id, lambda r: r.cancel_program(program_id, self.clock().date(), reason),
            actor=actor, causation_id=cause, ids={"program_id": program_id},
        )

    async def end_program(self, program_id: str, reason: str, actor: str, cause: str | None = None) -> Written:
        client_id = await self._client_of("program", program_id)
        return await self._update(
            client_id, lambda r: r.end_program(program_id, self.clock().date(), reason, actor),
            actor=actor, causation_id=cause, ids={"program_id": program_id},
        )

    async def switch_program(
        self, program_id: str, name: str, terms: ProgramTerms, revenue: Decimal | None, reason: str,
        actor: str, cause: str | None = None,
    ) -> Written:
        client_id = await self._client_of("program", program_id)
        new_id = self._new_id(actor, "program")
        p = self.policies

        def decide(r: Relationship) -> None:
            r.switch_program(
                program_id, new_id, self.clock().date(), reason, actor, name=name, terms=terms,
                revenue=revenue if revenue is not None else r.annual_revenue, fee_tiers=p.fee_tiers, currency=p.currency,
                lead_days=p.program_lead_days,
                follow_up_ids=(derived_event_id(new_id, "notice"), derived_event_id(new_id, "renewal")),
            )

        return await self._update(client_id, decide, actor=actor, causation_id=cause, ids={"program_id": new_id})

    # --- complaints -------------------------------------------------------------------------

    async def open_complaint(
        self, client_id: str, category: str, severity: str, description: str, concerns: dict[str, str | None],
        actor: str, cause: str | None = None,
    ) -> Written:
        require_uuid(client_id, "client")
        complaint_id = self._new_id(actor, "complaint")
        deadlines = self.policies.complaint_deadlines

        def decide(r: Relationship) -> None:
            r.open_complaint(
                complaint_id, category=category, severity=severity, description=description, concerns=concerns,
                deadlines=deadlines, now=self.clock(), by=actor,
            )

        return await self._update(client_id, decide, actor=actor, causation_id=cause, ids={"complaint_id": complaint_id})

    async def on_complaint(self, complaint_id: str, decide: Callable[[Relationship], Any], actor: str, cause: str | None) -> Written:
        """A lifecycle step of one complaint (acknowledge, assign, resolve, confirm, reopen)."""
        client_id = await self._client_of("complaint", complaint_id)
        return await self._update(client_id, decide, actor=actor, causation_id=cause, ids={"complaint_id": complaint_id})

    async def record_complaint_breaches(self, client_id: str, complaint_id: str) -> int:
        """What the deadline scheduler records: each missed deadline once (event ids derived from the case)."""
        written = await self._update(
            client_id, lambda r: r.record_breaches(complaint_id, self.clock()),
            actor="scheduler:complaint-deadlines", causation_id=None,
            event_ids=lambda r, n: derived_event_id(complaint_id, f"breach:{r.pending[n].deadline}:{r.pending[n].round}"),
        )
        return written.appended

    # --- time: what the planner records (deterministic ids, so replicas never double up) -----

    async def retier(self, client_id: str, revenue: Decimal | None, tier: str, reason: str) -> bool:
        rules = self.policies.tiers
        today = self.clock().date()
        written = await self._update(
            client_id,
            lambda r: r.set_tier(tier, rules.review_days(tier), revenue, reason, today, derived_event_id(client_id, f"review:{r.version}")),
            actor="scheduler:planner", causation_id=None,
            event_ids=lambda r, n: derived_event_id(client_id, f"tier:{r.version}:{n}"),
        )
        return written.appended > 0

    async def schedule_reactivation(self, client_id: str, quiet_from: datetime, reactivation_after_days: int) -> bool:
        follow_up_id = reactivation_id(client_id, quiet_from)
        today = self.clock().date()
        written = await self._update(
            client_id,
            lambda r: r.wake_up(follow_up_id, today, quiet_from.date(), reactivation_after_days),
            actor="scheduler:planner", causation_id=None,
            event_ids=lambda r, n: derived_event_id(follow_up_id, f"scheduled:{n}"),
        )
        return written.appended > 0


def reactivation_id(client_id: str, quiet_from: datetime) -> str:
    """One reactivation per quiet spell: the id is derived from when the client went quiet."""
    return derived_event_id(client_id, f"reactivation:{quiet_from.astimezone(timezone.utc).isoformat(timespec='seconds')}")


__all__ = ["FollowupApplication", "Policies", "reactivation_id", "utc_now"]
