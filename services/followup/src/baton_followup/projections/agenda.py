"""The agenda's own read model: one entry per open follow-up with what decides its place, and
how many are due per day, so that a page of the agenda and its counts cost the same on a
young log and a large one.

Each entry carries its client's manager, its place in the agenda's order (``rank``) and its
``standing``, what the contact policy makes of it whatever the time:
- ``held``: someone else manages the account;
- ``stopped``: do-not-contact, a "stop" or a cap of zero;
- ``open``: allowed from ``allowed_from`` (the frequency cap's release, or always);
- ``python``: an offer, an account in a contact group, or a client state the agenda cannot
  read in SQL; decided in Python, as recording a contact would.
The counts keep ``held``, ``stopped`` and ``open`` per manager (and for everyone) and due
day. Time enters only through ``allowed_from`` in the future and contacts recorded ahead of
now, which are as many as the clients contacted lately, and are counted apart.

The projection folds the client's relationship (the part it keeps) and follow-ups with the
same folds as their own read models, in one transaction with its own checkpoint.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Date, DateTime, Index, Integer, JSON, MetaData, String, Table
from sqlalchemy import delete, select

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import Projection
from baton_shared.projections.sql import move_counts, stored_utc, upsert

from baton_followup.domain.contact_policy import HELD_FOR_GOOD
from baton_followup.projections.follow_ups import fold_follow_up
from baton_followup.projections.relationships import fold_relationship, new_relationship

EVERYONE = "*"  # the counts' scope for every manager; one manager's is "=" + their name
COUNTED = ("held", "stopped", "open")
COUNT_KEYS = ("scope", "standing", "due_on")
RANKS = (0, 1, 2, 3)  # recovery and key, recovery, key, the rest
CLIENT_COLUMNS = (
    "client_id",
    "account_manager",
    "tier",
    "managed_by",
    "contact_groups",
    "contact_policy",
    "stopped_on",
    "contact_times",
    "contact_allowed_from",
    "last_contact_at",
)
ENTRY_COLUMNS = (
    "follow_up_id",
    "client_id",
    "kind",
    "due_on",
    "account_manager",
    "rank",
    "standing",
    "allowed_from",
    "last_contact_at",
)
# What changes a client's agenda columns (manager, tier, management, groups, contact policy).
_CLIENT_EVENTS = (
    ev.RelationshipStarted,
    ev.RelationshipGrouped,
    ev.ManagementDelegated,
    ev.ClientTiered,
    ev.ContactPolicyAdopted,
    ev.HandoverBriefPrepared,
    ev.ContactRecorded,
)
_FOLLOW_UP_EVENTS = (ev.FollowUpScheduled, ev.FollowUpRescheduled, ev.FollowUpClosed, ev.ContactRecorded)
_WANTED = _CLIENT_EVENTS + _FOLLOW_UP_EVENTS


def scope_of(account_manager: str | None) -> str:
    return EVERYONE if account_manager is None else "=" + account_manager


def rank_of(kind: str, tier: str) -> int:
    """The first two keys of the agenda's order in one: recoveries, then key accounts."""
    return 2 * (kind != "recovery") + (tier != "key")


def standing_of(kind: str, client: dict[str, Any]) -> str:
    """What the policy makes of a follow-up of ``client`` at any time (see the module)."""
    if client["managed_by"] is not None:
        return "held"
    allowed_from = client["contact_allowed_from"]
    if kind == "offer" or client["contact_groups"] or allowed_from is None:
        return "python"
    return "stopped" if stored_utc(allowed_from) >= HELD_FOR_GOOD else "open"


def entry_of(follow_up: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
    """An open follow-up's agenda entry, from its row and its client's."""
    return {
        "follow_up_id": follow_up["follow_up_id"],
        "client_id": follow_up["client_id"],
        "kind": follow_up["kind"],
        "due_on": follow_up["due_on"],
        "account_manager": client["account_manager"],
        "rank": rank_of(follow_up["kind"], client["tier"]),
        "standing": standing_of(follow_up["kind"], client),
        "allowed_from": client["contact_allowed_from"],
        "last_contact_at": client["last_contact_at"],
    }


def _counted(entry: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    if entry is None or entry["standing"] not in COUNTED:
        return []
    return [(scope, entry["standing"], entry["due_on"]) for scope in (EVERYONE, scope_of(entry["account_manager"]))]


class AgendaProjection(Projection):
    name = "agenda"
    per_client = False  # the counts are every client's together

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.clients = Table(
            f"agenda_clients{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("account_manager", String(200), nullable=False),
            Column("tier", String(16), nullable=False),
            Column("managed_by", String(200)),
            Column("contact_groups", JSON),
            Column("contact_policy", JSON, nullable=False),
            Column("stopped_on", Date),
            Column("contact_times", JSON, nullable=False),
            Column("contact_allowed_from", DateTime(timezone=True)),
            Column("last_contact_at", DateTime(timezone=True)),
        )
        ordered = ("standing", "rank", "due_on", "follow_up_id", "allowed_from", "last_contact_at")
        self.entries = Table(
            f"agenda_entries{suffix}",
            metadata,
            Column("follow_up_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("kind", String(32), nullable=False),
            Column("due_on", Date, nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("rank", Integer, nullable=False),
            Column("standing", String(8), nullable=False),
            Column("allowed_from", DateTime(timezone=True)),
            Column("last_contact_at", DateTime(timezone=True)),
            # A page is a walk of one of these in the agenda's order, for everyone or one manager.
            Index(f"ix_agenda_entries{suffix}_order", *ordered),
            Index(f"ix_agenda_entries{suffix}_manager", "account_manager", *ordered),
            Index(f"ix_agenda_entries{suffix}_client", "client_id"),
            # What time decides: cap releases ahead, contacts recorded ahead of now.
            Index(f"ix_agenda_entries{suffix}_release", "allowed_from"),
            Index(f"ix_agenda_entries{suffix}_last_contact", "last_contact_at"),
        )
        self.counts = Table(
            f"agenda_counts{suffix}",
            metadata,
            Column("scope", String(201), primary_key=True),
            Column("standing", String(8), primary_key=True),
            Column("due_on", Date, primary_key=True),
            Column("n", Integer, nullable=False),
        )

    def touches(self, events: list[RecordedEvent]) -> bool:
        return any(isinstance(e.event, _WANTED) for e in events)

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        mine = [e for e in events if isinstance(e.event, _WANTED)]
        if not mine:
            return
        ids = list(dict.fromkeys(e.event.client_id for e in mine))
        clients = _of_clients(conn, self.clients, "client_id", ids)
        before = _of_clients(conn, self.entries, "follow_up_id", ids)
        follow_ups = {fid: dict(entry) for fid, entry in before.items()}
        changed: set[str] = set()
        for recorded in mine:
            e = recorded.event
            if isinstance(e, _CLIENT_EVENTS):
                kept = clients.get(e.client_id)
                whole = None if kept is None else {**new_relationship(e.client_id), **kept}
                clients[e.client_id] = _kept(fold_relationship(whole, recorded))
                changed.add(e.client_id)
            fid = getattr(e, "follow_up_id", None)
            if isinstance(e, _FOLLOW_UP_EVENTS) and fid is not None:
                row = fold_follow_up(follow_ups.get(fid), recorded)
                if row is not None:
                    follow_ups[fid] = row
        for cid in ids:
            if cid not in clients:  # a follow-up before its client's first event (as relationships do)
                clients[cid] = _kept(new_relationship(cid))
                changed.add(cid)
        after = {
            fid: entry_of(row, clients[row["client_id"]]) if row.get("status", "open") == "open" else None
            for fid, row in follow_ups.items()
        }
        upsert(conn, self.clients, [clients[c] for c in changed], ["client_id"])
        self.store(conn, before, after)

    def store(self, conn: Connection, before: dict[str, dict | None], after: dict[str, dict | None]) -> None:
        """Write the entries that changed from ``before`` to ``after`` (None: no entry) and move the counts."""
        moved: Counter = Counter()
        written, gone = [], []
        for fid, entry in after.items():
            old = before.get(fid)
            if entry == old:
                continue
            moved.subtract(_counted(old))
            moved.update(_counted(entry))
            if entry is None:
                gone.append(fid)
            else:
                written.append({c: entry[c] for c in ENTRY_COLUMNS})
        if gone:
            conn.execute(delete(self.entries).where(self.entries.c.follow_up_id.in_(gone)))
        upsert(conn, self.entries, written, ["follow_up_id"])
        move_counts(conn, self.counts, COUNT_KEYS, dict(moved))


def _of_clients(conn: Connection, table: Table, key: str, ids: list[str]) -> dict[str, dict]:
    """The rows of ``table`` of these clients, by ``key``."""
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 900):
        rows = conn.execute(select(table).where(table.c.client_id.in_(ids[i : i + 900])))
        out.update({r[key]: _moments(dict(r)) for r in rows.mappings()})
    return out


def _kept(relationship: dict[str, Any]) -> dict[str, Any]:
    """The part of a relationship row the agenda keeps, folded further as the whole row would be."""
    return {c: relationship[c] for c in CLIENT_COLUMNS}


def _moments(row: dict[str, Any]) -> dict[str, Any]:
    """A loaded row with its moments in UTC (SQLite keeps no zone), comparable with folded ones."""
    return {k: stored_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
