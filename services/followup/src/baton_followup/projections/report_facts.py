"""The facts the head's reports are computed from, one projection per stream.

A projection reads one stream, and a report needs all three (a work order's lateness
from delivery, the client's segment and manager changes from intake, contacts and
offers from follow-up), so each stream has its own fact projection here and the
report queries (``baton_followup.reports``) join their tables. Each is rebuilt,
verified and copied as of a time like any other projection; ``baton reports … --as-of``
builds the three copies at one instant and reports from them.

Facts are kept per thing (work order, request, client) or per event (a manager
change, a contact): a report is a query over a period, so no figure is frozen here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from baton_shared.contracts import delivery as dv
from baton_shared.contracts import followup as fu
from baton_shared.contracts import intake as it
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import Projection
from baton_shared.projections.sql import insert_new, load_rows, upsert
from sqlalchemy import BigInteger, Column, Connection, Date, DateTime, Float, Index, Integer, MetaData, String, Table

Fold = Callable[["Facts", RecordedEvent], None]


class Facts:
    """One batch's rows, loaded once per table and key, changed in memory, written back."""

    def __init__(self, loaded: dict[str, dict[Any, dict]]) -> None:
        self.loaded = loaded
        self.changed: dict[str, dict[Any, dict]] = {}
        self.appended: dict[str, list[dict]] = {}

    def get(self, table: str, key: Any) -> dict | None:
        return self.loaded.get(table, {}).get(key)

    def put(self, table: str, key: Any, row: dict) -> None:
        self.loaded.setdefault(table, {})[key] = row
        self.changed.setdefault(table, {})[key] = row

    def append(self, table: str, row: dict) -> None:
        self.appended.setdefault(table, []).append(row)


class FactProjection(Projection):
    """Tables updated per key (``keyed``: table name → key column) or appended to (``ledgers``).

    ``keys_of(recorded)`` names the (table, key) rows an event may read or change; ``fold``
    changes them through ``Facts``."""

    keyed: ClassVar[dict[str, str]] = {}
    ledgers: ClassVar[dict[str, tuple[str, ...]]] = {}
    handles: ClassVar[tuple[type, ...]] = ()
    tables: dict[str, Table]

    def touches(self, events: list[RecordedEvent]) -> bool:
        return any(isinstance(e.event, self.handles) for e in events)

    def keys_of(self, recorded: RecordedEvent) -> list[tuple[str, Any]]:
        raise NotImplementedError

    def fold(self, facts: Facts, recorded: RecordedEvent) -> None:
        raise NotImplementedError

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        mine = [e for e in events if isinstance(e.event, self.handles)]
        if not mine:
            return
        wanted: dict[str, list[Any]] = {}
        for recorded in mine:
            for table, key in self.keys_of(recorded):
                wanted.setdefault(table, []).append(key)
        loaded = {name: load_rows(conn, self.tables[name], self.keyed[name], keys) for name, keys in wanted.items()}
        facts = Facts(loaded)
        for recorded in mine:
            self.fold(facts, recorded)
        for name, rows in facts.changed.items():
            upsert(conn, self.tables[name], list(rows.values()), [self.keyed[name]])
        for name, rows in facts.appended.items():
            insert_new(conn, self.tables[name], rows, list(self.ledgers[name]))

    def _table(self, metadata: MetaData, name: str, suffix: str, *columns: Any) -> Table:
        table = Table(f"{name}{suffix}", metadata, *columns)
        self.tables[name] = table
        return table


class ReportsFromIntake(FactProjection):
    """Clients (segment, current manager), manager changes, requests and handoffs."""

    name = "reports_from_intake"
    source = "intake"
    keyed = {"report_clients": "client_id", "report_requests": "request_id", "report_handoffs": "handoff_id"}
    ledgers = {"report_manager_changes": ("seq",)}
    handles = (
        it.ClientRegistered,
        it.AccountManagerAssigned,
        it.NeedCaptured,
        it.HandoffRequested,
        it.RequestCancelled,
    )

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.tables = {}
        self._table(
            metadata,
            "report_clients",
            suffix,
            Column("client_id", String(64), primary_key=True),
            Column("name", String(400), nullable=False),
            Column("segment", String(8), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("registered_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_report_clients{suffix}_manager", "account_manager"),
        )
        self._table(
            metadata,
            "report_manager_changes",
            suffix,
            Column("seq", BigInteger, primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("changed_at", DateTime(timezone=True), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("previous_account_manager", String(200)),
            Index(f"ix_report_manager_changes{suffix}_client", "client_id", "changed_at"),
        )
        self._table(
            metadata,
            "report_requests",
            suffix,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("captured_at", DateTime(timezone=True), nullable=False),
            Column("budget", String(32)),  # a decimal string: summed exactly in Python
            Column("currency", String(8), nullable=False),
            Column("source_opportunity_id", String(64)),
            Column("cancelled_at", DateTime(timezone=True)),
            Index(f"ix_report_requests{suffix}_opportunity", "source_opportunity_id"),
        )
        self._table(
            metadata,
            "report_handoffs",
            suffix,
            Column("handoff_id", String(64), primary_key=True),
            Column("request_id", String(64), nullable=False),
            Column("client_id", String(64), nullable=False),
            Column("department", String(100), nullable=False),
            Column("handed_off_at", DateTime(timezone=True), nullable=False),
            Column("due_by", Date, nullable=False),
            # Copied from the request and the client (this stream's own facts): a lead time's
            # start and group on the row its step ends in, so the report joins neither.
            Column("captured_at", DateTime(timezone=True)),
            Column("segment", String(8)),
            Index(f"ix_report_handoffs{suffix}_when", "handed_off_at"),
            Index(f"ix_report_handoffs{suffix}_request", "request_id"),
        )

    def keys_of(self, recorded: RecordedEvent) -> list[tuple[str, Any]]:
        e = recorded.event
        if isinstance(e, it.AccountManagerAssigned):
            return [("report_clients", e.client_id)]
        if isinstance(e, it.RequestCancelled):
            return [("report_requests", e.request_id)]
        if isinstance(e, it.HandoffRequested):
            return [("report_requests", e.request_id), ("report_clients", e.client_id)]
        return []

    def fold(self, facts: Facts, recorded: RecordedEvent) -> None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, it.ClientRegistered):
            facts.put(
                "report_clients",
                e.client_id,
                {
                    "client_id": e.client_id,
                    "name": e.name,
                    "segment": e.segment,
                    "account_manager": e.account_manager,
                    "registered_at": at,
                },
            )
        elif isinstance(e, it.AccountManagerAssigned):
            client = facts.get("report_clients", e.client_id)
            if client is not None:
                facts.put("report_clients", e.client_id, {**client, "account_manager": e.account_manager})
            if e.account_manager != e.previous_account_manager:
                facts.append(
                    "report_manager_changes",
                    {
                        "seq": recorded.seq,
                        "client_id": e.client_id,
                        "changed_at": at,
                        "account_manager": e.account_manager,
                        "previous_account_manager": e.previous_account_manager,
                    },
                )
        elif isinstance(e, it.NeedCaptured):
            facts.put(
                "report_requests",
                e.request_id,
                {
                    "request_id": e.request_id,
                    "client_id": e.client_id,
                    "captured_at": at,
                    "budget": None if e.budget is None else str(e.budget),
                    "currency": e.currency,
                    "source_opportunity_id": e.source_opportunity_id,
                    "cancelled_at": None,
                },
            )
        elif isinstance(e, it.HandoffRequested):
            request = facts.get("report_requests", e.request_id)
            client = facts.get("report_clients", e.client_id)
            facts.put(
                "report_handoffs",
                e.handoff_id,
                {
                    "handoff_id": e.handoff_id,
                    "request_id": e.request_id,
                    "client_id": e.client_id,
                    "department": e.department,
                    "handed_off_at": at,
                    "due_by": e.due_by,
                    "captured_at": None if request is None else request["captured_at"],
                    "segment": None if client is None else client["segment"],
                },
            )
        elif isinstance(e, it.RequestCancelled):
            request = facts.get("report_requests", e.request_id)
            if request is not None:
                facts.put("report_requests", e.request_id, {**request, "cancelled_at": e.cancelled_at})


class ReportsFromDelivery(FactProjection):
    """Each work order's due date, first acceptance, completions, blocked time and rework
    rounds; each request's acceptance by the client."""

    name = "reports_from_delivery"
    source = "delivery"
    keyed = {"report_work_orders": "work_order_id", "report_deliveries": "request_id"}
    handles = (dv.WorkOrderEvent, dv.DeliveryAccepted, dv.DeliveryRejected)

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.tables = {}
        self._table(
            metadata,
            "report_work_orders",
            suffix,
            Column("work_order_id", String(64), primary_key=True),
            Column("request_id", String(64), nullable=False),
            Column("client_id", String(64), nullable=False),
            Column("department", String(100), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("due_by", Date, nullable=False),
            Column("status", String(24), nullable=False),
            Column("accepted_at", DateTime(timezone=True)),
            Column("first_completed_at", DateTime(timezone=True)),
            Column("completed_at", DateTime(timezone=True)),
            Column("blocked_seconds", Float, nullable=False),
            Column("rework_rounds", Integer, nullable=False),
            Index(f"ix_report_work_orders{suffix}_due", "due_by"),
            Index(f"ix_report_work_orders{suffix}_accepted", "accepted_at"),
            Index(f"ix_report_work_orders{suffix}_completed", "first_completed_at"),
            Index(f"ix_report_work_orders{suffix}_request", "request_id"),
        )
        self._table(
            metadata,
            "report_deliveries",
            suffix,
            Column("request_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200)),
            Column("accepted_at", DateTime(timezone=True)),
            Column("rework_rounds", Integer, nullable=False),
            Index(f"ix_report_deliveries{suffix}_accepted", "accepted_at"),
        )

    def keys_of(self, recorded: RecordedEvent) -> list[tuple[str, Any]]:
        e = recorded.event
        if isinstance(e, dv.WorkOrderEvent):
            return [] if isinstance(e, dv.WorkOrderOpened) else [("report_work_orders", e.work_order_id)]
        return [("report_deliveries", e.request_id)]

    def fold(self, facts: Facts, recorded: RecordedEvent) -> None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, dv.WorkOrderOpened):
            facts.put(
                "report_work_orders",
                e.work_order_id,
                {
                    "work_order_id": e.work_order_id,
                    "request_id": e.request_id,
                    "client_id": e.client_id,
                    "department": e.department,
                    "account_manager": e.account_manager,
                    "due_by": e.due_by,
                    "status": "opened",
                    "accepted_at": None,
                    "first_completed_at": None,
                    "completed_at": None,
                    "blocked_seconds": 0.0,
                    "rework_rounds": 0,
                },
            )
            return
        if isinstance(e, dv.WorkOrderEvent):
            row = facts.get("report_work_orders", e.work_order_id)
            if row is None:
                return  # opened before the log we read (never in a whole log)
            row = dict(row)
            if isinstance(e, dv.WorkOrderAccepted):
                row["status"] = "accepted"
                row["accepted_at"] = row["accepted_at"] or at
            elif isinstance(e, dv.WorkOrderCompleted):
                row.update(status="completed", completed_at=e.completed_at)
                row["first_completed_at"] = row["first_completed_at"] or e.completed_at
            elif isinstance(e, dv.WorkOrderUnblocked):
                row["blocked_seconds"] = row["blocked_seconds"] + e.blocked_seconds
            elif isinstance(e, dv.WorkOrderReopened):
                row.update(status="reopened", rework_rounds=row["rework_rounds"] + 1)
            elif isinstance(e, dv.WorkOrderCancelled):
                row["status"] = "cancelled"
            facts.put("report_work_orders", e.work_order_id, row)
            return
        row = dict(
            facts.get("report_deliveries", e.request_id)
            or {
                "request_id": e.request_id,
                "client_id": e.client_id,
                "account_manager": None,
                "accepted_at": None,
                "rework_rounds": 0,
            }
        )
        if isinstance(e, dv.DeliveryAccepted):
            row.update(account_manager=e.account_manager, accepted_at=e.accepted_at)
        else:
            row["rework_rounds"] += 1
        facts.put("report_deliveries", e.request_id, row)


ACTIVITY: dict[type, Callable[[Any], tuple[str, str | None, str | None]]] = {
    # event → (kind, code, reference)
    fu.ContactRecorded: lambda e: ("contact", e.outcome, e.follow_up_id),
    fu.ContactSuppressed: lambda e: ("refused", e.code, e.follow_up_id),
    fu.OpportunityOffered: lambda e: ("offered", e.kind, e.opportunity_id),
    fu.OpportunityWon: lambda e: ("won", e.kind, e.opportunity_id),
    fu.OpportunityDeclined: lambda e: ("declined", e.kind, e.opportunity_id),
    fu.OpportunityOutcomeReviewed: lambda e: ("outcome", e.delivered_value, e.opportunity_id),
    fu.HandoverBriefAcknowledged: lambda e: ("acknowledged", e.how, e.brief_id),
}

# event → (case id, kind, whether it opens the case): recoveries and complaints open now
CASES: dict[type, Callable[[Any], tuple[str, str, bool]]] = {
    fu.RecoveryOpened: lambda e: (e.recovery_id, "recovery", True),
    fu.RecoveryClosed: lambda e: (e.recovery_id, "recovery", False),
    fu.ComplaintOpened: lambda e: (e.complaint_id, "complaint", True),
    fu.ComplaintReopened: lambda e: (e.complaint_id, "complaint", True),
    fu.ComplaintResolved: lambda e: (e.complaint_id, "complaint", False),
}


class ReportsFromFollowup(FactProjection):
    """Who held each client when (from follow-up's own stream), and what was done under
    them: contacts made and refused, offers, outcome reviews, brief acknowledgements; the
    clients' tiers, review follow-ups, programs, and recoveries and complaints (open or not)."""

    name = "reports_from_followup"
    keyed = {
        "report_relationships": "client_id",
        "report_follow_ups": "follow_up_id",
        "report_programs": "program_id",
        "report_cases": "case_id",
    }
    ledgers = {"report_activity": ("seq",)}
    handles = (
        *CASES,
        fu.RelationshipStarted,
        fu.HandoverBriefPrepared,
        fu.ClientTiered,
        fu.FollowUpScheduled,
        fu.FollowUpRescheduled,
        fu.FollowUpClosed,
        fu.ProgramEnrolled,
        fu.ProgramCancelled,
        *ACTIVITY,
    )

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.tables = {}
        self._table(
            metadata,
            "report_relationships",
            suffix,
            Column("client_id", String(64), primary_key=True),
            Column("account_manager", String(200), nullable=False),
            Column("tier", String(16), nullable=False),
        )
        self._table(
            metadata,
            "report_activity",
            suffix,
            Column("seq", BigInteger, primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("kind", String(24), nullable=False),
            Column("code", String(64)),
            Column("reference", String(64)),
            Index(f"ix_report_activity{suffix}_when", "occurred_at"),
            Index(f"ix_report_activity{suffix}_client", "client_id", "kind"),
            Index(f"ix_report_activity{suffix}_kind", "kind", "occurred_at"),
        )
        self._table(
            metadata,
            "report_follow_ups",
            suffix,
            Column("follow_up_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("kind", String(32), nullable=False),
            Column("due_on", Date, nullable=False),
            Column("status", String(16), nullable=False),
        )
        self._table(
            metadata,
            "report_cases",
            suffix,
            Column("case_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("kind", String(16), nullable=False),
            Column("opened_at", DateTime(timezone=True), nullable=False),
            Column("closed_at", DateTime(timezone=True)),
        )
        self._table(
            metadata,
            "report_programs",
            suffix,
            Column("program_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("monthly_fee", String(32), nullable=False),
            Column("currency", String(8), nullable=False),
            Column("starts_on", Date, nullable=False),
            Column("ends_on", Date, nullable=False),
        )

    def keys_of(self, recorded: RecordedEvent) -> list[tuple[str, Any]]:
        e = recorded.event
        keys = [("report_relationships", e.client_id)]
        if type(e) in CASES:
            keys.append(("report_cases", CASES[type(e)](e)[0]))
        follow_up = getattr(e, "follow_up_id", None)
        if follow_up and not isinstance(e, fu.FollowUpScheduled):
            keys.append(("report_follow_ups", follow_up))
        if isinstance(e, fu.ProgramCancelled):
            keys.append(("report_programs", e.program_id))
        return keys

    def fold(self, facts: Facts, recorded: RecordedEvent) -> None:
        e, at = recorded.event, recorded.envelope.occurred_at
        held = facts.get("report_relationships", e.client_id)
        if isinstance(e, (fu.RelationshipStarted, fu.HandoverBriefPrepared)):
            tier = held["tier"] if held else "standard"
            facts.put(
                "report_relationships",
                e.client_id,
                {
                    "client_id": e.client_id,
                    "account_manager": e.account_manager,
                    "tier": tier,
                },
            )
            return
        if held is None:
            return  # no relationship yet (never in a whole log)
        manager = held["account_manager"]
        if type(e) in CASES:
            case_id, kind, opens = CASES[type(e)](e)
            row = facts.get("report_cases", case_id)
            if opens:
                opened = row["opened_at"] if row else at
                facts.put(
                    "report_cases",
                    case_id,
                    {
                        "case_id": case_id,
                        "client_id": e.client_id,
                        "kind": kind,
                        "opened_at": opened,
                        "closed_at": None,
                    },
                )
            elif row is not None and row["closed_at"] is None:
                facts.put("report_cases", case_id, {**row, "closed_at": at})
        if isinstance(e, fu.ClientTiered):
            facts.put("report_relationships", e.client_id, {**held, "tier": e.tier})
        elif isinstance(e, fu.FollowUpScheduled):
            facts.put(
                "report_follow_ups",
                e.follow_up_id,
                {
                    "follow_up_id": e.follow_up_id,
                    "client_id": e.client_id,
                    "kind": e.kind,
                    "due_on": e.due_on,
                    "status": "open",
                },
            )
        elif isinstance(e, (fu.FollowUpRescheduled, fu.FollowUpClosed)):
            row = facts.get("report_follow_ups", e.follow_up_id)
            if row is not None:
                change = {"due_on": e.due_on} if isinstance(e, fu.FollowUpRescheduled) else {"status": "closed"}
                facts.put("report_follow_ups", e.follow_up_id, {**row, **change})
        elif isinstance(e, fu.ProgramEnrolled):
            facts.put(
                "report_programs",
                e.program_id,
                {
                    "program_id": e.program_id,
                    "client_id": e.client_id,
                    "account_manager": manager,
                    "monthly_fee": str(e.monthly_fee),
                    "currency": e.currency,
                    "starts_on": e.starts_on,
                    "ends_on": e.ends_on,
                },
            )
        elif isinstance(e, fu.ProgramCancelled):
            row = facts.get("report_programs", e.program_id)
            if row is not None:
                facts.put("report_programs", e.program_id, {**row, "ends_on": min(row["ends_on"], e.effective_on)})
        if type(e) in ACTIVITY:
            kind, code, reference = ACTIVITY[type(e)](e)
            facts.append(
                "report_activity",
                {
                    "seq": recorded.seq,
                    "client_id": e.client_id,
                    "account_manager": manager,
                    "occurred_at": at,
                    "kind": kind,
                    "code": code,
                    "reference": reference,
                },
            )
            if isinstance(e, fu.ContactRecorded) and e.outcome in ("reached", "stop") and e.follow_up_id:
                row = facts.get("report_follow_ups", e.follow_up_id)
                if row is not None:
                    facts.put("report_follow_ups", e.follow_up_id, {**row, "status": "done"})


REPORT_PROJECTIONS = (ReportsFromIntake, ReportsFromDelivery, ReportsFromFollowup)
