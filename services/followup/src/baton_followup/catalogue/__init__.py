"""Data files follow-up runs on: the catalogue of next needs, the program fee tiers, complaint deadlines.

Loaded and checked at start-up: a bad file stops the service with a message that
names the file and the entry, never a rule silently ignored.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from baton_followup.domain import FeeTier, NextNeedRule
from baton_followup.domain.complaints import ComplaintDeadlines

HERE = Path(__file__).parent


class CatalogueError(ValueError):
    pass


def _load(path: Path, table: str) -> list[dict]:
    try:
        with path.open("rb") as f:
            entries = tomllib.load(f).get(table)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path}: needs at least one [[{table}]] entry")
    return entries


def next_need_rules(path: Path | None = None) -> tuple[NextNeedRule, ...]:
    path = path or HERE / "next_needs.toml"
    rules, seen = [], set()
    for n, entry in enumerate(_load(path, "rule"), 1):
        try:
            rule = NextNeedRule(
                id=str(entry["id"]),
                kind=str(entry["kind"]),
                title=str(entry["title"]),
                reason=str(entry["reason"]),
                departments=tuple(map(str, entry.get("departments", ()))),
                keywords=tuple(map(str, entry.get("keywords", ()))),
                offer_after_days=int(entry.get("offer_after_days", 30)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"{path}: rule {n}: missing or bad field {exc}") from exc
        if rule.id in seen:
            raise CatalogueError(f"{path}: rule id {rule.id!r} appears twice")
        if not (rule.departments or rule.keywords):
            raise CatalogueError(f"{path}: rule {rule.id!r} needs departments or keywords to match on")
        if not 0 <= rule.offer_after_days <= 3650:
            raise CatalogueError(f"{path}: rule {rule.id!r}: offer_after_days must be 0..3650")
        seen.add(rule.id)
        rules.append(rule)
    return tuple(rules)


def fee_tiers(path: Path | None = None) -> tuple[FeeTier, ...]:
    path = path or HERE / "program_fees.toml"
    tiers = []
    for n, entry in enumerate(_load(path, "tier"), 1):
        try:
            tier = FeeTier(Decimal(str(entry["revenue_from"])), Decimal(str(entry["monthly_fee"])))
        except (KeyError, ArithmeticError) as exc:
            raise CatalogueError(f"{path}: tier {n}: missing or bad field {exc}") from exc
        if tier.revenue_from < 0 or tier.monthly_fee < 0:
            raise CatalogueError(f"{path}: tier {n}: amounts cannot be negative")
        tiers.append(tier)
    if min(t.revenue_from for t in tiers) != 0:
        raise CatalogueError(f"{path}: one tier must start at revenue_from = 0 so every client has a fee")
    return tuple(sorted(tiers, key=lambda t: t.revenue_from))


def complaint_deadlines(path: Path | None = None) -> dict[str, ComplaintDeadlines]:
    path = path or HERE / "complaint_deadlines.toml"
    table = {}
    for n, entry in enumerate(_load(path, "deadline"), 1):
        try:
            d = ComplaintDeadlines(
                str(entry["tier"]), int(entry["first_response_hours"]), int(entry["resolution_hours"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"{path}: deadline {n}: missing or bad field {exc}") from exc
        if d.tier in table:
            raise CatalogueError(f"{path}: tier {d.tier!r} appears twice")
        if not 1 <= d.first_response_hours <= d.resolution_hours <= 24 * 365:
            raise CatalogueError(
                f"{path}: tier {d.tier!r}: needs 1 <= first_response_hours <= resolution_hours <= 8760"
            )
        table[d.tier] = d
    if "standard" not in table:
        raise CatalogueError(f"{path}: needs a deadline for tier 'standard' (every other tier falls back to it)")
    return table
