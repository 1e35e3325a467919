"""Queries over follow-up's read models, as JSON-ready dicts.

The agenda applies the same contact-policy rules the domain enforces, so it
never lists a follow-up the policy would refuse.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.own_events import OwnEventsProjection, read_events
from baton_shared.projections.sql import json_row, row_by, stored_utc

from baton_followup.domain import ContactState, refusal
from baton_followup.domain.contact_policy import Refusal
from baton_followup.domain.one_voice import managed_elsewhere
from baton_followup.projections.agenda import AgendaProjection
from baton_followup.projections.agenda_page import agenda_page, groups_refusal
from baton_followup.projections.briefs import BriefsProjection
from baton_followup.projections.client_health import ClientHealthProjection
from baton_followup.projections.client_profiles import ClientProfilesProjection
from baton_followup.projections.client_requests import ClientRequestsProjection
from baton_followup.projections.complaint_views import ComplaintViews
from baton_followup.projections.contact_groups import ContactGroupsProjection, slots_of
from baton_followup.projections.follow_ups import FollowUpsProjection
from baton_followup.projections.opportunities import OpportunitiesProjection
from baton_followup.projections.programs import ProgramsProjection
from baton_followup.projections.recoveries import RecoveriesProjection
from baton_followup.projections.relationships import RelationshipsProjection, contact_state
from baton_followup.projections.request_deliveries import RequestDeliveriesProjection
from baton_followup.projections.revenue_ranks import RevenueRanksProjection, band_of, rank_query


class FollowupViews:
    def __init__(
        self,
        engine: AsyncEngine,
        relationships: RelationshipsProjection,
        follow_ups: FollowUpsProjection,
        opportunities: OpportunitiesProjection,
        programs: ProgramsProjection,
        briefs: BriefsProjection,
        profiles: ClientProfilesProjection,
        requests: ClientRequestsProjection,
        deliveries: RequestDeliveriesProjection,
        own_events: OwnEventsProjection,
        recoveries: RecoveriesProjection,
        health: ClientHealthProjection,
        complaints: ComplaintViews | None = None,
        groups: ContactGroupsProjection | None = None,
        agenda: AgendaProjection | None = None,
        ranks: RevenueRanksProjection | None = None,
    ) -> None:
        self.engine = engine
        self.complaints = complaints
        self.groups = groups.contact_groups if groups is not None else None
        self.rel = relationships.relationships
        self.fu = follow_ups.follow_ups
        self.opp = opportunities.opportunities
        self.prog = programs.programs
        self.br = briefs.briefs
        self.prof = profiles.client_profiles
        self.req = requests.client_requests
        self.dlv = deliveries.request_deliveries
        self.own = own_events.table
        self.rec = recoveries.recoveries
        self.hl, self.hl_changes = health.client_health, health.changes
        agenda = agenda or AgendaProjection()
        self.agenda_entries, self.agenda_counts = agenda.entries, agenda.counts
        ranks = ranks or RevenueRanksProjection()
        self._rank = rank_query(ranks.revenues, ranks.bands)

    async def _one(self, table, column, value) -> dict | None:  # noqa: ANN001
        async with self.engine.connect() as conn:
            row = await row_by(conn, table, column.key, value)
            return None if row is None else json_row(row)

    # --- directory: which client an id belongs to --------------------------------------

    async def client_of(self, what: str, item_id: str) -> str | None:
        if what == "complaint" and self.complaints is not None:
            return await self.complaints.client_of(item_id)
        table = {"follow-up": self.fu, "opportunity": self.opp, "program": self.prog, "recovery": self.rec}[what]
        column = table.c[
            {
                "follow-up": "follow_up_id",
                "opportunity": "opportunity_id",
                "program": "program_id",
                "recovery": "recovery_id",
            }[what]
        ]
        async with self.engine.connect() as conn:
            return await conn.scalar(select(table.c.client_id).where(column == item_id))

    async def own_events(self, *, limit: int, offset: int, **key: str) -> tuple[list[dict], int]:
        """Follow-up's events of one client (``client_id=``) or one journey (``correlation_id=``)."""
        return await read_events(self.engine, self.own, limit=limit, offset=offset, **key)

    # --- single items ------------------------------------------------------------------

    async def follow_up(self, follow_up_id: str) -> dict | None:
        return await self._one(self.fu, self.fu.c.follow_up_id, follow_up_id)

    async def opportunity(self, opportunity_id: str) -> dict | None:
        return await self._one(self.opp, self.opp.c.opportunity_id, opportunity_id)

    async def program(self, program_id: str) -> dict | None:
        return await self._one(self.prog, self.prog.c.program_id, program_id)

    async def recovery(self, recovery_id: str) -> dict | None:
        return await self._one(self.rec, self.rec.c.recovery_id, recovery_id)

    async def recoveries(self, client_id: str) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(self.rec)
                .where(self.rec.c.client_id == client_id)
                .order_by(self.rec.c.opened_at, self.rec.c.recovery_id)
            )
            return [json_row(r) for r in rows.mappings()]

    async def health(self, client_id: str) -> dict | None:
        """The client's health row, with ``history``: every change of the score, oldest first."""
        async with self.engine.connect() as conn:
            row = await row_by(conn, self.hl, "client_id", client_id)
            if row is None:
                return None
            changes = await conn.execute(
                select(self.hl_changes.c.at, self.hl_changes.c.score, self.hl_changes.c.reasons)
                .where(self.hl_changes.c.client_id == client_id)
                .order_by(self.hl_changes.c.version)
            )
            return {**json_row(row), "history": [json_row(c) for c in changes.mappings()]}

    async def at_risk(self, account_manager: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        """Clients at risk now, the longest at risk first."""
        where = [self.hl.c.at_risk_since.is_not(None)]
        if account_manager is not None:
            where.append(self.rel.c.account_manager == account_manager)
        query = (
            select(
                self.hl.c.client_id,
                self.hl.c.score,
                self.hl.c.reasons,
                self.hl.c.at_risk_reason,
                self.hl.c.at_risk_since,
                self.rel.c.client_name,
                self.rel.c.account_manager,
            )
            .select_from(self.hl.join(self.rel, self.rel.c.client_id == self.hl.c.client_id))
            .where(*where)
        )
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(query.subquery()))
            rows = await conn.execute(
                query.order_by(self.hl.c.at_risk_since, self.hl.c.client_id).limit(limit).offset(offset)
            )
            return [json_row(r) for r in rows.mappings()], int(total or 0)

    async def at_risk_spells(self) -> list[tuple[str, datetime, str]]:
        """(client, when the spell began, why) for every client at risk now: the planner's candidates."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(self.hl.c.client_id, self.hl.c.at_risk_since, self.hl.c.at_risk_reason).where(
                    self.hl.c.at_risk_since.is_not(None)
                )
            )
            return [(r.client_id, stored_utc(r.at_risk_since), r.at_risk_reason) for r in rows]

    async def reviews_overdue(
        self, today: date, limit: int = 1000, after: tuple[date, str] | None = None
    ) -> list[tuple[str, str, date]]:
        """(client, review follow-up, due on) for open reviews past their date not yet recorded
        overdue, oldest first; ``after`` the last of the previous page (its due date and id)."""
        fu = self.fu
        query = (
            select(fu.c.client_id, fu.c.follow_up_id, fu.c.due_on)
            .where(fu.c.status == "open", fu.c.kind == "review", fu.c.due_on < today)
            .where((fu.c.overdue_on.is_(None)) | (fu.c.overdue_on != fu.c.due_on))
            .order_by(fu.c.due_on, fu.c.follow_up_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(fu.c.due_on, fu.c.follow_up_id) > tuple_(*after))
        async with self.engine.connect() as conn:
            return [(r.client_id, r.follow_up_id, r.due_on) for r in await conn.execute(query)]

    async def relationship(self, client_id: str) -> dict | None:
        return await self._one(self.rel, self.rel.c.client_id, client_id)

    async def profile(self, client_id: str) -> dict | None:
        return await self._one(self.prof, self.prof.c.client_id, client_id)

    async def stored_brief(self, brief_id: str) -> dict | None:
        return await self._one(self.br, self.br.c.brief_id, brief_id)

    # --- lists ---------------------------------------------------------------------------

    async def opportunities(
        self, client_id: str | None, status: str | None, limit: int, offset: int, account_manager: str | None = None
    ) -> tuple[list[dict], int]:
        where = []
        if client_id is not None:
            where.append(self.opp.c.client_id == client_id)
        if account_manager is not None:
            mine = select(self.rel.c.client_id).where(self.rel.c.account_manager == account_manager)
            where.append(self.opp.c.client_id.in_(mine))
        if status is not None:
            where.append(self.opp.c.status == status)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(self.opp).where(*where))
            rows = await conn.execute(
                select(self.opp)
                .where(*where)
                .order_by(self.opp.c.identified_at, self.opp.c.opportunity_id)
                .limit(limit)
                .offset(offset)
            )
            return [json_row(r) for r in rows.mappings()], int(total or 0)

    async def agenda(
        self, account_manager: str | None, due_before: date, now: datetime, limit: int, offset: int, held: bool = False
    ) -> tuple[list[dict], int]:
        """Open follow-ups due by ``due_before`` that the policy allows now: recoveries first, then key
        accounts, then the most overdue. ``held``: those the policy holds back too, after them, each with why."""
        return await agenda_page(self, account_manager, due_before, now, limit, offset, held)

    async def contact_refusal(self, relationship: dict, now: datetime) -> Refusal | None:
        """Why a contact of this client now would be refused, the way recording it decides: someone
        else manages the account, its own policy, then its contact groups'."""
        refused = managed_elsewhere(relationship.get("managed_by")) or refusal(contact_state(relationship), now)
        if refused is not None or not relationship.get("contact_groups"):
            return refused
        async with self.engine.connect() as conn:
            return groups_refusal(relationship, await self.groups_of(conn, [relationship]), now)

    async def groups_of(self, conn, rows) -> dict[str, tuple[list, dict[str, ContactState]]]:  # noqa: ANN001
        """The contact groups of ``rows``' accounts: each group's slots and its accounts' contact states."""
        ids = {g for r in rows for g in (r["contact_groups"] or [])}
        if not ids or self.groups is None:
            return {}
        found = (await conn.execute(select(self.groups).where(self.groups.c.group_id.in_(ids)))).mappings().all()
        members = {m for g in found for m in g["members"]}
        states = {
            rel["client_id"]: contact_state(rel)
            for rel in (await conn.execute(select(self.rel).where(self.rel.c.client_id.in_(members)))).mappings()
        }
        return {g["group_id"]: (slots_of(g), {m: states[m] for m in g["members"] if m in states}) for g in found}

    # --- inputs to decisions -------------------------------------------------------------

    async def revenue_rank(self, revenue: Decimal | None, excluding: str) -> tuple[int, int]:
        """(other clients with more revenue than ``revenue``, other clients with a known revenue):
        the bands above the amount's, counted, and its own band's clients above it."""
        floor = revenue or Decimal(0)
        counts = {"band": band_of(floor), "amount": floor, "client": excluding}
        async with self.engine.connect() as conn:
            counted_above, counted_within, counted_known, own_amount = (await conn.execute(self._rank, counts)).one()
        higher, others_known = int(counted_above) + int(counted_within), int(counted_known)
        if own_amount is None:
            return higher, others_known
        return higher - int(Decimal(own_amount) > floor), others_known - 1

    async def tier_inputs(self) -> list[tuple[str, Decimal | None]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(self.prof.c.client_id, self.prof.c.annual_revenue).order_by(self.prof.c.client_id)
            )
            return [(r.client_id, None if r.annual_revenue is None else Decimal(r.annual_revenue)) for r in rows]

    async def current_tiers(self) -> dict[str, tuple[str, Decimal | None]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(self.rel.c.client_id, self.rel.c.tier, self.rel.c.annual_revenue))
            return {
                r.client_id: (r.tier, None if r.annual_revenue is None else Decimal(r.annual_revenue)) for r in rows
            }

    async def existing_follow_ups(self, follow_up_ids: list[str]) -> set[str]:
        found: set[str] = set()
        async with self.engine.connect() as conn:
            for start in range(0, len(follow_up_ids), 500):
                chunk = follow_up_ids[start : start + 500]
                found.update(
                    await conn.scalars(select(self.fu.c.follow_up_id).where(self.fu.c.follow_up_id.in_(chunk)))
                )
        return found

    async def dormant_clients(self, quiet_since: datetime) -> list[tuple[str, datetime]]:
        """Clients with no request (or, never having asked, no registration) since ``quiet_since``,
        with the moment they went quiet."""
        last = func.coalesce(self.prof.c.last_request_at, self.prof.c.registered_at)
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(self.prof.c.client_id, last.label("quiet_from")).where(last < quiet_since))
            return [(r.client_id, stored_utc(r.quiet_from)) for r in rows]

    async def request_text(self, request_id: str) -> str | None:
        """What a request was about, in words (its need and its promises), for matching next
        needs; None while this view has not heard of the request."""
        row = await self._one(self.req, self.req.c.request_id, request_id)
        if row is None:
            return None
        return " ".join([row["summary"], *(p["scope"] for p in row["promises"])])

    # --- the handover brief ---------------------------------------------------------------

    async def brief(self, client_id: str) -> dict[str, Any] | None:
        """Everything a new account manager should know, so the client need not repeat it."""
        async with self.engine.connect() as conn:
            profile = await row_by(conn, self.prof, "client_id", client_id)
            relationship = await row_by(conn, self.rel, "client_id", client_id)
            if profile is None and relationship is None:
                return None
            requests = (
                (
                    await conn.execute(
                        select(self.req, self.dlv.c.status.label("delivery_status"), self.dlv.c.work_orders)
                        .select_from(self.req.outerjoin(self.dlv, self.dlv.c.request_id == self.req.c.request_id))
                        .where(self.req.c.client_id == client_id)
                        .order_by(self.req.c.captured_at)
                    )
                )
                .mappings()
                .all()
            )
            open_follow_ups = (
                (
                    await conn.execute(
                        select(self.fu)
                        .where(self.fu.c.client_id == client_id, self.fu.c.status == "open")
                        .order_by(self.fu.c.due_on)
                    )
                )
                .mappings()
                .all()
            )
            programs = (
                (await conn.execute(select(self.prog).where(self.prog.c.client_id == client_id))).mappings().all()
            )
            recoveries = (
                (
                    await conn.execute(
                        select(self.rec)
                        .where(self.rec.c.client_id == client_id)
                        .order_by(self.rec.c.opened_at, self.rec.c.recovery_id)
                    )
                )
                .mappings()
                .all()
            )
            handovers = (
                (
                    await conn.execute(
                        select(
                            self.br.c.brief_id,
                            self.br.c.account_manager,
                            self.br.c.previous_account_manager,
                            self.br.c.prepared_at,
                        )
                        .where(self.br.c.client_id == client_id)
                        .order_by(self.br.c.prepared_at)
                    )
                )
                .mappings()
                .all()
            )
        rel = json_row(relationship) if relationship else {}
        open_requests = [
            {
                "request_id": r["request_id"],
                "summary": r["summary"],
                "status": r["status"],
                "delivery_status": r["delivery_status"] or "not started",
                "desired_by": r["desired_by"] and r["desired_by"].isoformat(),
                "promises": r["promises"],
                "work_orders": sorted((r["work_orders"] or {}).values(), key=lambda w: w.get("department", "")),
            }
            for r in requests
            if r["status"] != "cancelled" and r["delivery_status"] != "accepted"
        ]
        return {
            "client_id": client_id,
            "profile": None
            if profile is None
            else {
                k: json_row(profile)[k]
                for k in ("name", "segment", "business_description", "annual_revenue", "registered_at")
            },
            "account_manager": (profile and profile["account_manager"]) or rel.get("account_manager"),
            "nuances": [] if profile is None else profile["notes"],
            "tier": rel.get("tier", "standard"),
            "review_every_days": rel.get("review_every_days"),
            "contact_policy": rel.get("contact_policy"),
            "stopped_on": rel.get("stopped_on"),
            "open_requests": open_requests,
            "promises_due": [
                {
                    "follow_up_id": f["follow_up_id"],
                    "kind": f["kind"],
                    "due_on": f["due_on"].isoformat(),
                    "reason": f["reason"],
                }
                for f in open_follow_ups
            ],
            "programs": [json_row(p) for p in programs],
            "last_contacts": list(reversed(rel.get("recent_contacts", [])))[:10],
            "declined_offers": rel.get("declined_offers", []),
            "satisfaction_history": rel.get("satisfaction", []),
            "outcome_reviews": rel.get("outcome_reviews", []),
            "suppressions": list(reversed(rel.get("suppressions", [])))[:10],
            "handovers": [json_row(h) for h in handovers],
            "recoveries": [json_row(r) for r in recoveries],
        }
