"""Program commitment terms: the dates that follow from them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ProgramTerms:
    minimum_term_months: int = 6
    total_term_months: int = 12
    notice_days: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.minimum_term_months <= self.total_term_months <= 120:
            raise ValueError("terms need 1 <= minimum_term_months <= total_term_months <= 120")
        if not 0 <= self.notice_days <= 365:
            raise ValueError("notice_days must be between 0 and 365")


@dataclass(frozen=True)
class ProgramDates:
    starts_on: date
    minimum_term_ends_on: date  # cancellation can be requested from this day
    ends_on: date  # the program renews (or ends) on this day
    notice_deadline: date  # the last day to give notice so that it ends on ``ends_on``


def program_dates(starts_on: date, terms: ProgramTerms) -> ProgramDates:
    ends_on = add_months(starts_on, terms.total_term_months)
    return ProgramDates(
        starts_on=starts_on,
        minimum_term_ends_on=add_months(starts_on, terms.minimum_term_months),
        ends_on=ends_on,
        notice_deadline=ends_on - timedelta(days=terms.notice_days),
    )


def cancellation_effective_on(dates: ProgramDates, notice_days: int, requested_on: date) -> date:
    """When a cancellation requested on ``requested_on`` takes effect (caller checks the minimum)."""
    return min(requested_on + timedelta(days=notice_days), dates.ends_on)
