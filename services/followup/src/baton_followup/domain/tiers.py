"""Tiers, review cadence and program fees: pure functions of revenue."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TierRules:
    key_share: float = 0.2  # the top 20 % of clients by annual revenue are key accounts
    key_revenue_threshold: Decimal | None = Decimal("10000000")  # ... and anyone above this
    key_review_days: int = 30
    standard_review_days: int = 90

    def review_days(self, tier: str) -> int:
        return self.key_review_days if tier == "key" else self.standard_review_days


def tier_for(revenue: Decimal | None, others: Sequence[Decimal | None], rules: TierRules) -> tuple[str, str]:
    """(tier, reason) for a client with ``revenue`` among ``others`` (every other client's revenue)."""
    if revenue is None:
        return "standard", "annual revenue unknown"
    if rules.key_revenue_threshold is not None and revenue >= rules.key_revenue_threshold:
        return (
            "key",
            f"annual revenue {revenue:,} is at or above the key-account threshold {rules.key_revenue_threshold:,}",
        )
    known = [r for r in others if r is not None]
    return tier_by_rank(revenue, sum(1 for r in known if r > revenue), len(known), rules)


def tier_by_rank(revenue: Decimal | None, higher: int, others_known: int, rules: TierRules) -> tuple[str, str]:
    """``tier_for`` from counts: ``higher`` other clients with more revenue, of ``others_known``
    other clients with a known revenue (what the database counts, without listing them)."""
    if revenue is None:
        return "standard", "annual revenue unknown"
    return _tier_from_rank(revenue, higher, others_known + 1, rules)


@dataclass(frozen=True)
class FeeTier:
    revenue_from: Decimal  # trailing-12-month revenue at or above this ...
    monthly_fee: Decimal


DEFAULT_FEE_TIERS = (
    FeeTier(Decimal("0"), Decimal("2500")),
    FeeTier(Decimal("1000000"), Decimal("3500")),
    FeeTier(Decimal("10000000"), Decimal("5000")),
)


def monthly_fee(trailing_revenue: Decimal, tiers: Sequence[FeeTier] = DEFAULT_FEE_TIERS) -> Decimal:
    """The fee of the highest tier the revenue reaches (tiers in any order)."""
    reached = [t for t in tiers if trailing_revenue >= t.revenue_from]
    if not reached:
        raise ValueError(f"no fee tier covers a revenue of {trailing_revenue}")
    return max(reached, key=lambda t: t.revenue_from).monthly_fee


def rank_tiers(revenues: dict[str, Decimal | None], rules: TierRules) -> dict[str, tuple[str, str]]:
    """``tier_for`` for every client at once (sorted once, not once per client)."""
    known = sorted(r for r in revenues.values() if r is not None)
    out = {}
    for client_id, revenue in revenues.items():
        if revenue is None:
            out[client_id] = tier_for(None, (), rules)
            continue
        higher = len(known) - bisect.bisect_right(known, revenue)
        out[client_id] = _tier_from_rank(revenue, higher, len(known), rules)
    return out


def _tier_from_rank(revenue: Decimal, higher: int, known: int, rules: TierRules) -> tuple[str, str]:
    """``higher``: clients with more revenue; ``known``: clients with a known revenue, this one included.
    Fewer than 1/key_share of them (5 by default): no key account by rank, only by threshold."""
    if rules.key_revenue_threshold is not None and revenue >= rules.key_revenue_threshold:
        return (
            "key",
            f"annual revenue {revenue:,} is at or above the key-account threshold {rules.key_revenue_threshold:,}",
        )
    key_seats = math.floor(known * rules.key_share)
    if key_seats and higher < key_seats:
        return "key", f"annual revenue ranks {higher + 1} of {known}: in the top {rules.key_share:.0%}"
    return "standard", f"annual revenue ranks {higher + 1} of {known}: outside the top {rules.key_share:.0%}"
