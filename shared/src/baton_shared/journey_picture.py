"""A client's journey as swimlanes: one lane per service, one box per event in time order.

A minimal drawing (the console's placeholder): boxes in time order, an arrow from a
cause to its effect when both are drawn, overdue and refused events marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

LANES = ("intake", "delivery", "followup")
_MARKS = {"WorkOrderOverdue": "overdue", "ContactSuppressed": "refused"}


@dataclass(frozen=True)
class JourneyEvent:
    event_id: str
    event_type: str
    service: str  # lane: "intake" | "delivery" | "followup"
    occurred_at: datetime  # tz-aware
    causation_id: str | None = None
    label: str = ""  # short extra text for the box
    marks: frozenset[str] = frozenset()  # e.g. {"overdue"}, {"refused"}


def _lane(item: Mapping[str, Any]) -> str:
    stream = str(item.get("stream") or item.get("service") or "intake").lower()
    return stream if stream in LANES else "intake"


def journey_from_timeline(items: Iterable[Mapping[str, Any]]) -> list[JourneyEvent]:
    """Events from intake's ``GET /v1/clients/{id}/timeline`` items, in time order."""
    events = []
    for item in items:
        occurred = item.get("occurred_at")
        if isinstance(occurred, str):
            occurred = datetime.fromisoformat(occurred)
        kind = str(item.get("event_type", "?"))
        events.append(
            JourneyEvent(
                event_id=str(item.get("event_id", "")),
                event_type=kind,
                service=_lane(item),
                occurred_at=occurred,
                causation_id=item.get("causation_id"),
                label=str(item.get("actor") or ""),
                marks=frozenset({_MARKS[kind]}) if kind in _MARKS else frozenset(),
            )
        )
    return sorted(events, key=lambda e: e.occurred_at)


BOX_W, BOX_H, GAP, LANE_H, LEFT = 150, 36, 12, 60, 90


def render_svg(events: Sequence[JourneyEvent], *, title: str = "") -> str:
    """A standalone ``<svg>`` document."""
    width = LEFT + max(1, len(events)) * (BOX_W + GAP) + GAP
    height = 30 + LANE_H * len(LANES)
    where: dict[str, tuple[float, float]] = {}
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or "journey")}">'
        ),
        f"<title>{escape(title or 'journey')}</title>",
        (
            '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>'
        ),
    ]
    for n, lane in enumerate(LANES):
        y = 30 + n * LANE_H
        parts.append(f'<rect x="0" y="{y}" width="{width}" height="{LANE_H}" fill="{"#f6f8fa" if n % 2 else "#fff"}"/>')
        parts.append(f'<text x="6" y="{y + LANE_H / 2 + 4}" font-size="12" font-family="sans-serif">{lane}</text>')
    for i, event in enumerate(events):
        x = LEFT + i * (BOX_W + GAP)
        y = 30 + LANES.index(event.service if event.service in LANES else "intake") * LANE_H + (LANE_H - BOX_H) / 2
        where[event.event_id] = (x, y)
        stroke = "#c0392b" if event.marks else "#2c3e50"
        marks = " ".join(sorted(event.marks))
        parts.append(
            f"<g><title>{escape(event.event_type)} {event.occurred_at.isoformat()} {escape(marks)}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" fill="#fff" stroke="{stroke}"/>'
            f'<text x="{x + 4}" y="{y + 14}" font-size="10" font-family="sans-serif">{escape(event.event_type[:26])}</text>'
            f'<text x="{x + 4}" y="{y + 28}" font-size="9" font-family="sans-serif" fill="#555">'
            f"{escape((marks or event.label)[:28])}</text></g>"
        )
    for event in events:
        if event.causation_id in where and event.event_id in where:
            (x1, y1), (x2, y2) = where[event.causation_id], where[event.event_id]
            parts.append(
                f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H / 2}" x2="{x2}" y2="{y2 + BOX_H / 2}" '
                'stroke="#555" marker-end="url(#arrow)"/>'
            )
    parts.append(f'<text x="6" y="18" font-size="13" font-family="sans-serif">{escape(title)}</text></svg>')
    return "".join(parts)


def render_html(events: Sequence[JourneyEvent], *, title: str = "") -> str:
    """A standalone page (no network) holding the picture."""
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title or 'journey')}</title>"
        f"<body style='margin:0;overflow:auto'>{render_svg(events, title=title)}</body></html>"
    )
