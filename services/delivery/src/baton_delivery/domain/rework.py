"""What a request's corrections cost, and who pays: totals of its rework items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal


def rework_totals(items: Iterable[Mapping]) -> list[dict]:
    """One total per (payer, currency) over priced rework items, payer then currency in order.

    Items are rework items as stored (``paid_by``, ``amount`` as text or Decimal, ``currency``);
    unpriced ones (no amount) are counted but add nothing."""
    totals: dict[tuple[str, str | None], dict] = {}
    for item in items:
        paid_by = item.get("paid_by") or "us"
        amount = item.get("amount")
        currency = item.get("currency") if amount is not None else None
        total = totals.setdefault(
            (paid_by, currency), {"paid_by": paid_by, "currency": currency, "amount": Decimal(0), "items": 0}
        )
        total["items"] += 1
        if amount is not None:
            total["amount"] += Decimal(str(amount))
    ordered = sorted(totals.values(), key=lambda t: (t["paid_by"], t["currency"] or ""))
    return [dict(t, amount=None if t["currency"] is None else f"{t['amount']:.2f}") for t in ordered]
