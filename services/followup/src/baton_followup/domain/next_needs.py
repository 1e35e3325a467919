"""What a client usually needs next, after a delivery: rules from the catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NextNeedRule:
    id: str
    kind: str  # the kind of offer (cool-downs apply per kind)
    title: str
    reason: str  # what the account manager can say out loud
    departments: tuple[str, ...] = ()  # delivered by one of these departments ...
    keywords: tuple[str, ...] = ()  # ... or the need mentions one of these words
    offer_after_days: int = 30

    def matches(self, departments: Iterable[str], text: str) -> bool:
        delivered = {d.lower() for d in departments}
        words = text.lower()
        return bool(delivered & {d.lower() for d in self.departments}) or any(k.lower() in words for k in self.keywords)


def next_needs(rules: Sequence[NextNeedRule], departments: Iterable[str], text: str) -> list[NextNeedRule]:
    departments = list(departments)
    return [rule for rule in rules if rule.matches(departments, text)]
