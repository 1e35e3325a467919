"""Relationships read model: one row per client with what the policy and the brief need.

Tier and cadence, the contact policy (and a "stop"), the contacts of the last
weeks (the frequency cap), cool-downs per offer kind, satisfaction, declined
offers, outcome reviews and the latest suppressions.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, JSON, MetaData, String, Table

from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ContactPolicy
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate
from baton_shared.projections.sql import stored_utc

from baton_followup.domain.contact_policy import ContactState, contact_allowed_from

KEEP_CONTACTS = 60  # the policy never allows more than 60 contacts in 30 days
KEEP_RECENT = 20


def _tail(items: list, item: dict, keep: int = KEEP_RECENT) -> list:
    return [*items, item][-keep:]


class RelationshipsProjection(RowPerAggregate):
    name = "relationships"
    aggregate_type = "client"
    key = "client_id"
    created_by = None  # a delivery can reach follow-up before the client's registration does

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.relationships = Table(
            f"relationships{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("client_name", String(200), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("tier", String(16), nullable=False),
            Column("review_every_days", Integer),
            Column("annual_revenue", String(40)),
            Column("contact_policy", JSON, nullable=False),
            Column("stopped_on", Date),
            Column("contact_times", JSON, nullable=False),
            Column("cool_downs", JSON, nullable=False),
            Column("recent_contacts", JSON, nullable=False),
            Column("suppressions", JSON, nullable=False),
            Column("satisfaction", JSON, nullable=False),
            Column("declined_offers", JSON, nullable=False),
            Column("outcome_reviews", JSON, nullable=False),
            Column("contact_groups", JSON),  # one voice: the groups whose policy this account shares
            Column("managed_by", String(200)),  # someone else manages the account: no outreach
            Column("in_contact_group", Boolean),  # contact_groups is not empty
            # What the policy answers a contact that is no offer (``contact_allowed_from``), as the
            # agenda's read model keeps it too; NULL on rows folded before it was kept.
            Column("contact_allowed_from", DateTime(timezone=True)),
            Column("last_contact_at", DateTime(timezone=True)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_relationships{suffix}_manager", "account_manager"),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.FollowupEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        return fold_relationship(row, recorded)


def fold_relationship(row: dict | None, recorded: RecordedEvent) -> dict:
    """A client's relationship row after ``recorded`` (the agenda's projection folds the part it keeps)."""
    e, at = recorded.event, recorded.envelope.occurred_at
    row = dict(row or new_relationship(e.client_id), updated_at=at, version=recorded.seq)
    if isinstance(e, ev.RelationshipStarted):
        row.update(
            client_name=e.client_name,
            account_manager=e.account_manager,
            contact_policy=e.contact_policy.model_dump(mode="json"),
            annual_revenue=None if e.annual_revenue is None else str(e.annual_revenue),
        )
        if e.contact_group is not None:
            row["contact_groups"] = _joined(row, e.contact_group)
    elif isinstance(e, ev.RelationshipGrouped):
        row["contact_groups"] = _joined(row, e.group_id)
    elif isinstance(e, ev.ManagementDelegated):
        row["managed_by"] = e.managed_by
    elif isinstance(e, ev.ClientTiered):
        row.update(
            tier=e.tier,
            review_every_days=e.review_every_days,
            annual_revenue=None if e.annual_revenue is None else str(e.annual_revenue),
        )
    elif isinstance(e, ev.ContactPolicyAdopted):
        row.update(contact_policy=e.contact_policy.model_dump(mode="json"), stopped_on=None)
    elif isinstance(e, ev.HandoverBriefPrepared):
        row["account_manager"] = e.account_manager
    elif isinstance(e, ev.ContactRecorded):
        row["contact_times"] = _tail(row["contact_times"], e.contacted_at.isoformat(), KEEP_CONTACTS)
        row["recent_contacts"] = _tail(
            row["recent_contacts"],
            {
                "at": e.contacted_at.isoformat(),
                "channel": e.channel,
                "outcome": e.outcome,
                "note": e.note,
                "by": e.by,
                "follow_up_id": e.follow_up_id,
                "opportunity_id": e.opportunity_id,
            },
        )
        if e.outcome == "stop":
            row["stopped_on"] = e.contacted_at.date()
    elif isinstance(e, ev.ContactSuppressed):
        row["suppressions"] = _tail(
            row["suppressions"],
            {
                "at": e.suppressed_at.isoformat(),
                "code": e.code,
                "reason": e.reason,
                "channel": e.channel,
                "by": e.by,
                "follow_up_id": e.follow_up_id,
                "opportunity_id": e.opportunity_id,
            },
        )
    elif isinstance(e, ev.SatisfactionRecorded):
        row["satisfaction"] = [
            *row["satisfaction"],
            {"at": e.recorded_at.isoformat(), "score": e.score, "comment": e.comment, "request_id": e.request_id},
        ]
    elif isinstance(e, ev.OpportunityDeclined):
        until = e.cool_down_until.isoformat()
        row["cool_downs"] = {**row["cool_downs"], e.kind: max(until, row["cool_downs"].get(e.kind, until))}
        row["declined_offers"] = [
            *row["declined_offers"],
            {
                "at": e.declined_at.isoformat(),
                "opportunity_id": e.opportunity_id,
                "kind": e.kind,
                "reason": e.reason,
                "cool_down_until": until,
            },
        ]
    elif isinstance(e, ev.OpportunityOutcomeReviewed):
        row["outcome_reviews"] = [
            *row["outcome_reviews"],
            {
                "at": e.reviewed_at.isoformat(),
                "opportunity_id": e.opportunity_id,
                "delivered_value": e.delivered_value,
                "note": e.note,
            },
        ]
    if isinstance(e, _CHANGES_CONTACT_POLICY) or row["contact_allowed_from"] is None:
        state = contact_state(row)
        row["contact_allowed_from"] = contact_allowed_from(state)
        row["last_contact_at"] = max(state.contacts, default=None)
    row["in_contact_group"] = bool(row["contact_groups"])
    return row


# The events that change what ``contact_allowed_from`` reads: the policy, a stop, the contacts.
_CHANGES_CONTACT_POLICY = (ev.RelationshipStarted, ev.ContactPolicyAdopted, ev.ContactRecorded)


def contact_state(row: dict) -> ContactState:
    """The policy's view of a client, from their relationships row."""
    stopped = row["stopped_on"]
    return ContactState(
        policy=ContactPolicy.model_validate(row["contact_policy"]),
        stopped_on=date.fromisoformat(stopped) if isinstance(stopped, str) else stopped,
        contacts=[stored_utc(datetime.fromisoformat(at)) for at in row["contact_times"]],
        cool_downs={kind: date.fromisoformat(until) for kind, until in row["cool_downs"].items()},
        recovering=bool(row.get("recovering")),
    )


def _joined(row: dict, group_id: str) -> list[str]:
    groups = row.get("contact_groups") or []
    return groups if group_id in groups else [*groups, group_id]


def new_relationship(client_id: str) -> dict:
    return {
        "client_id": client_id,
        "client_name": "",
        "account_manager": "",
        "tier": "standard",
        "review_every_days": None,
        "annual_revenue": None,
        "contact_policy": {"do_not_contact": False, "max_contacts_per_30_days": 4, "preferred_channels": []},
        "stopped_on": None,
        "contact_times": [],
        "cool_downs": {},
        "recent_contacts": [],
        "suppressions": [],
        "satisfaction": [],
        "declined_offers": [],
        "outcome_reviews": [],
        "contact_groups": [],
        "managed_by": None,
        "in_contact_group": False,
        "contact_allowed_from": None,
        "last_contact_at": None,
    }
