"""A client's health: 0-100 with its reasons in words, from what the relationship's log says.

The formula (docs/architecture.md has a worked example): start at 100 and take off
- satisfaction: 10 points per point the mean of the last three scores falls below 5
  (a 1/5 alone costs 40), and 5 more when the latest is below the one before;
- an open recovery: 25;
- the client asked us to stop contacting them: 15;
- contacts refused by the policy: 15 x refused / (refused + reached);
- offers declined: 10 x declined / (declined + won);
- notice given on a program: 20;
- open complaints: 10 each, at most 30; and 10 more for each open one whose deadline
  (first response or resolution) passed, at most 20. Resolved counts as closed; a reopened
  complaint is open again, and counts as breached again only if its new deadline passes;
- work for the client overdue in delivery: 10 per work order, at most 20; blocked: 5 per
  work order, at most 10 (a work order both late and blocked counts in both);
- reviews past their date: 10 each, at most 20 (until done, closed or moved to a new date).
Never below 0. "At risk": below ``AT_RISK.at_risk_below`` (60), or down by more than
``AT_RISK.fall_points`` (20) from the best score of the last ``AT_RISK.fall_days`` (30).
The thresholds are constants, not settings: the read model folds them in, and a rebuild
must give the same spells whatever the process that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class HealthRules:
    at_risk_below: int = 60
    fall_points: int = 20
    fall_days: int = 30


@dataclass
class HealthInputs:
    """What the score is computed from; kept with the score so it can be explained."""

    scores: list[int] = field(default_factory=list)  # satisfaction, oldest first
    open_recoveries: int = 0
    stopped: bool = False
    reached: int = 0
    refused: int = 0
    won: int = 0
    declined: int = 0
    notices: int = 0
    open_complaints: list[str] = field(default_factory=list)  # complaint ids
    breached_complaints: list[str] = field(default_factory=list)  # open ones past a deadline
    overdue_work: list[str] = field(default_factory=list)  # work order ids, overdue in delivery
    blocked_work: list[str] = field(default_factory=list)  # work order ids, blocked in delivery
    overdue_reviews: list[str] = field(default_factory=list)  # review follow-up ids past their date


@dataclass(frozen=True)
class Health:
    score: int
    reasons: tuple[str, ...]


def health(inputs: HealthInputs) -> Health:
    penalties: list[tuple[int, str]] = []
    recent = inputs.scores[-3:]
    if recent:
        mean = sum(recent) / len(recent)
        if mean < 5:
            penalties.append(
                (round((5 - mean) * 10), f"satisfaction averages {mean:.1f}/5 over the last {len(recent)}")
            )
        if len(recent) >= 2 and recent[-1] < recent[-2]:
            penalties.append((5, f"satisfaction is falling ({recent[-2]} then {recent[-1]})"))
    if inputs.open_recoveries:
        penalties.append((25, "a recovery is open: the client is unhappy"))
    if inputs.stopped:
        penalties.append((15, "the client asked us to stop contacting them"))
    if inputs.refused:
        share = inputs.refused / (inputs.refused + inputs.reached)
        penalties.append(
            (round(15 * share), f"{inputs.refused} of {inputs.refused + inputs.reached} contacts refused by the policy")
        )
    if inputs.declined:
        share = inputs.declined / (inputs.declined + inputs.won)
        penalties.append(
            (round(10 * share), f"{inputs.declined} of {inputs.declined + inputs.won} settled offers declined")
        )
    if inputs.notices:
        penalties.append((20, "notice given on a program"))
    if inputs.open_complaints:
        n = len(inputs.open_complaints)
        penalties.append((min(30, 10 * n), f"{n} complaint{'s' if n > 1 else ''} open"))
    breached = [c for c in inputs.breached_complaints if c in inputs.open_complaints]
    if breached:
        n = len(breached)
        penalties.append((min(20, 10 * n), f"{n} open complaint{'s' if n > 1 else ''} past a deadline"))
    for ids, each, most, what in (
        (inputs.overdue_work, 10, 20, "work order{s} overdue in delivery"),
        (inputs.blocked_work, 5, 10, "work order{s} blocked in delivery"),
        (inputs.overdue_reviews, 10, 20, "review{s} past {its} date"),
    ):
        if ids:
            n = len(ids)
            why = what.format(s="s" if n > 1 else "", its="their" if n > 1 else "its")
            penalties.append((min(most, each * n), f"{n} {why}"))
    penalties = [(points, why) for points, why in penalties if points > 0]
    return Health(
        max(0, 100 - sum(points for points, _ in penalties)), tuple(f"-{points}: {why}" for points, why in penalties)
    )


AT_RISK = HealthRules()


# A change of the score: when, to what, and when the next change ended it (None: in effect now).
Spell = tuple[datetime, int, datetime | None]


def risk_window(window: list[Spell], at: datetime, score: int, rules: HealthRules = AT_RISK) -> list[Spell]:
    """The changes of the score ``at_risk`` still needs at ``at``, with the score now ``score``:
    not one that ended before the window opened, nor one that a later score at least as high
    outlasts (it can never be the best). Kept scores fall from oldest to newest, so there are
    at most 101 however long the client's history: a fold does not grow with it. ``at_risk``
    gives on this what it gives on the whole history, given changes in time order."""
    kept = list(window)
    if not kept or kept[-1][1] != score:
        if kept:
            kept[-1] = (kept[-1][0], kept[-1][1], at)
        while kept and kept[-1][1] <= score:
            kept.pop()
        kept.append((at, score, None))
    since = at - timedelta(days=rules.fall_days)
    return [spell for spell in kept if spell[2] is None or spell[2] >= since]


def at_risk(score: int, history: list[tuple[datetime, int]], now: datetime, rules: HealthRules = AT_RISK) -> str | None:
    """Why the client is at risk now, or None. ``history``: (when, score) as it changed, oldest first."""
    if score < rules.at_risk_below:
        return f"health {score} is below {rules.at_risk_below}"
    since = now - timedelta(days=rules.fall_days)
    before = [s for at, s in history if at < since][-1:]  # the score as the window opened
    best = max([s for at, s in history if at >= since] + before, default=score)
    if best - score > rules.fall_points:
        return f"health fell from {best} to {score} within {rules.fall_days} days"
    return None
