"""Recovery before selling: when an unhappy client gets a recovery, and by when.

A satisfaction of 1-2 or a rejected delivery opens one; it is due within a
number of working days that depends on the tier (key accounts sooner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

UNHAPPY_AT_MOST = 2  # a satisfaction of 1 or 2 out of 5


@dataclass(frozen=True)
class RecoveryRules:
    key_working_days: int = 1
    standard_working_days: int = 3

    def due_on(self, opened_on: date, tier: str) -> date:
        return add_working_days(opened_on, self.key_working_days if tier == "key" else self.standard_working_days)


def is_unhappy(score: int | None) -> bool:
    return score is not None and score <= UNHAPPY_AT_MOST


def add_working_days(day: date, days: int) -> date:
    """``days`` working days (Monday to Friday) after ``day``."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day
