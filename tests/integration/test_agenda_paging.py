"""The agenda filtered, ordered, counted and paged by the database gives what deciding every
due follow-up in Python gives: the same items, in the same order, with the same reasons, on
every page, on SQLite and PostgreSQL (offers, contact groups, accounts managed elsewhere and
rows folded before ``contact_allowed_from`` was kept included)."""

import random
from datetime import date, datetime, timedelta, timezone

from baton_shared.contracts.intake import ContactPolicy
from sqlalchemy import insert

from baton_followup.composition import VIEWS
from baton_followup.domain import ContactState, group_refusal, managed_elsewhere, refusal
from baton_followup.domain.contact_policy import contact_allowed_from
from baton_followup.domain.one_voice import Slot
from baton_followup.projections import all_projections
from baton_followup.projections.views import FollowupViews
from baton_shared.projections.sql import make_engine

from tests.integration.agenda_rows import seed_agenda

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
KINDS = ("review", "satisfaction", "offer", "recovery", "reactivation")


def history(rng: random.Random, clients: int = 70):
    """Rows for the projections, and each client's contact state as the domain sees it."""
    rows: dict[str, list[dict]] = {
        n: [] for n in ("relationships", "follow_ups", "opportunities", "recoveries", "contact_groups")
    }
    states, managed, groups_of = {}, {}, {}
    groups = {"g1": [], "g2": []}
    for n in range(clients):
        cid = f"c{n:03}"
        policy = ContactPolicy(
            do_not_contact=rng.random() < 0.08, max_contacts_per_30_days=rng.choice((0, 1, 2, 3, 4, 4, 4))
        )
        contacts = sorted(NOW - timedelta(hours=rng.randrange(1, 45 * 24)) for _ in range(rng.randrange(5)))
        stopped = date(2026, 6, 1) if rng.random() < 0.08 else None
        cool = {"upsell": TODAY + timedelta(days=rng.choice((-3, 10)))} if rng.random() < 0.3 else {}
        recovering = rng.random() < 0.15
        states[cid] = ContactState(policy, stopped, contacts, cool, recovering)
        managed[cid] = "an agency" if rng.random() < 0.08 else None
        grouped = [g for g in groups if rng.random() < 0.12]
        for g in grouped:
            groups[g].append(cid)
        groups_of[cid] = grouped
        unfolded = rng.random() < 0.15  # folded before the column was kept
        rows["relationships"].append(
            {
                "client_id": cid,
                "client_name": f"Client {n}",
                "account_manager": rng.choice(("ann", "bob")),
                "tier": rng.choice(("key", "standard", "standard")),
                "contact_policy": policy.model_dump(mode="json"),
                "stopped_on": stopped,
                "contact_times": [c.isoformat() for c in contacts],
                "cool_downs": {k: v.isoformat() for k, v in cool.items()},
                "recent_contacts": [],
                "suppressions": [],
                "satisfaction": [],
                "declined_offers": [],
                "outcome_reviews": [],
                "contact_groups": grouped,
                "in_contact_group": bool(grouped),
                "managed_by": managed[cid],
                "contact_allowed_from": None if unfolded else contact_allowed_from(states[cid]),
                "last_contact_at": None if unfolded else max(contacts, default=None),
                "updated_at": NOW,
                "version": 1,
            }
        )
        if recovering:
            rows["recoveries"].append(
                {
                    "recovery_id": f"{cid}-rec",
                    "client_id": cid,
                    "status": "open",
                    "cause": "low_score",
                    "reason": "r",
                    "feedback": "",
                    "due_on": TODAY,
                    "opened_at": NOW,
                    "version": 1,
                }
            )
        for f in range(rng.randrange(1, 4)):
            kind, fid = rng.choice(KINDS), f"{cid}-f{f}-{rng.randrange(10**6):06}"
            opportunity = None
            if kind == "offer":
                opportunity = f"{fid}-o"
                rows["opportunities"].append(
                    {
                        "opportunity_id": opportunity,
                        "client_id": cid,
                        "kind": rng.choice(("upsell", "cross_sell")),
                        "title": "t",
                        "reason": "r",
                        "rule_id": "rule",
                        "status": "open",
                        "identified_at": NOW,
                        "updated_at": NOW,
                        "version": 1,
                    }
                )
            rows["follow_ups"].append(
                {
                    "follow_up_id": fid,
                    "client_id": cid,
                    "kind": kind,
                    "due_on": TODAY + timedelta(days=rng.randrange(-20, 6)),
                    "status": "open" if rng.random() < 0.9 else "done",
                    "reason": "because",
                    "opportunity_id": opportunity,
                    "scheduled_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                }
            )
    slots = {
        g: [
            {"client_id": m, "contact_id": f"{g}-{i}", "account_manager": "ann", "taken_at": t.isoformat()}
            for i, (m, t) in enumerate((rng.choice(members), NOW - timedelta(days=rng.randrange(40))) for _ in range(3))
        ]
        for g, members in groups.items()
        if members
    }
    for g, members in groups.items():
        if members:
            rows["contact_groups"].append(
                {"group_id": g, "members": members, "slots": slots[g], "updated_at": NOW, "version": 1}
            )
    return rows, states, managed, groups_of, groups, slots


def expected(rows, states, managed, groups_of, groups, slots, manager, held):
    """Every due follow-up decided by the domain, in the agenda's order."""
    rel = {r["client_id"]: r for r in rows["relationships"]}
    offers = {o["opportunity_id"]: o["kind"] for o in rows["opportunities"]}
    out = []
    for f in rows["follow_ups"]:
        r = rel[f["client_id"]]
        if f["status"] != "open" or f["due_on"] > TODAY or (manager and r["account_manager"] != manager):
            continue
        cid = f["client_id"]
        offer_kind = offers[f["opportunity_id"]] if f["kind"] == "offer" else None
        why = managed_elsewhere(managed[cid]) or refusal(states[cid], NOW, offer_kind=offer_kind)
        for g in groups_of[cid] if why is None else ():
            parsed = [
                Slot(s["client_id"], s["contact_id"], s["account_manager"], datetime.fromisoformat(s["taken_at"]))
                for s in slots[g]
            ]
            why = group_refusal(parsed, cid, NOW, {m: states[m] for m in groups[g]})
            if why is not None:
                break
        if why is None or held:
            key = (f["kind"] != "recovery", r["tier"] != "key", f["due_on"], f["follow_up_id"])
            out.append((why is not None, key, f["follow_up_id"], None if why is None else why.code, why and why.reason))
    return [(fid, code, reason) for _, _, fid, code, reason in sorted(out)]


async def test_the_agenda_paged_by_the_database_is_the_agenda_decided_row_by_row(database_url):
    projections = {p.name: p for p in all_projections()}
    engine = make_engine(database_url)
    try:
        rows, *domain = history(random.Random(23))
        async with engine.begin() as conn:
            for p in projections.values():
                await conn.run_sync(p.metadata.create_all)
            for name, table_rows in rows.items():
                if table_rows:
                    await conn.execute(insert(projections[name].table), table_rows)
            await seed_agenda(conn, projections["agenda"], rows["relationships"], rows["follow_ups"])
        views = FollowupViews(
            engine,
            *(projections[n] for n in VIEWS),
            groups=projections["contact_groups"],
            agenda=projections["agenda"],
        )
        checked = 0
        for manager in (None, "ann"):
            for held in (False, True):
                want = expected(rows, *domain, manager, held)
                assert any(code for _, code, _ in want) == held
                for limit in (7, 50):
                    got = []
                    for offset in range(0, len(want) + limit, limit):
                        items, total = await views.agenda(manager, TODAY, NOW, limit, offset, held=held)
                        assert total == len(want), (manager, held, offset)
                        assert len(items) == max(0, min(limit, len(want) - offset))
                        got += [(i["follow_up_id"], i["not_now_code"], i["not_now"]) for i in items]
                        assert all(i["may_contact"] == (i["not_now_code"] is None) for i in items)
                    assert got == want, (manager, held, limit)
                    checked += len(got)
        codes = {code for _, code, _ in expected(rows, *domain, None, True)}
        # The history reaches every kind of decision the agenda makes.
        assert {None, "do_not_contact", "stopped", "frequency_cap", "managed_elsewhere"} <= codes, codes
        assert {"cool_down", "recovery_in_progress"} & codes, codes
        assert checked > 200
    finally:
        await engine.dispose()
