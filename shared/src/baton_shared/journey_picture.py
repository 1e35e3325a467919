"""The picture of a client's journey: swimlanes, one per service, events top to bottom in time order.

Pure (no I/O): ``baton trace --svg/--html`` and the console draw the same picture.

- One lane (column) per service; one box per event, one row per box, so time runs
  down the page and nothing overlaps however close the events are.
- An arrow from each event to the events it caused (causation id -> event id), with
  the time between them; a cause outside the picture (an HTTP call) draws no arrow.
- Overdue work (``WorkOrderOverdue``) and refused contacts (``ContactSuppressed``) are
  marked on their boxes.
- A run of the same event in the same lane (the same type and marks, nothing in the
  run caused by something drawn after the run began) is one box with a count: forty
  progress notes are one row, not forty. The HTML page adds zoom controls.

Every piece of text (payloads are user input) is escaped, and characters XML cannot
carry are dropped, so the document always parses and no text becomes markup.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

LANES: tuple[str, ...] = ("intake", "delivery", "followup")
STREAM_LANES = {"INTAKE": "intake", "DELIVERY": "delivery", "FOLLOWUP": "followup"}

# The event types that mean trouble the reader should see at a glance.
MARKS: dict[str, str] = {"WorkOrderOverdue": "overdue", "ContactSuppressed": "refused"}

# What a box says under the event type: payload fields, joined (a format when a bare value would be unclear).
LABELS: dict[str, tuple[str, ...]] = {
    "ClientRegistered": ("name",),
    "ClientNoteAdded": ("text",),
    "AccountManagerAssigned": ("to {account_manager}",),
    "ClientRevenueChanged": ("revenue {annual_revenue}",),
    "NeedCaptured": ("summary",),
    "ClarificationRecorded": ("question",),
    "HandoffRequested": ("department", "scope"),
    "ChangeRequested": ("department", "description"),
    "RequestCancelled": ("reason",),
    "WorkOrderOpened": ("department", "due {due_by}"),
    "WorkOrderAccepted": ("department", "by {member}"),
    "WorkOrderStarted": ("department",),
    "WorkOrderProgressed": ("department", "{percent}%", "note"),
    "WorkOrderBlocked": ("department", "reason"),
    "WorkOrderUnblocked": ("department",),
    "WorkOrderCompleted": ("department", "note"),
    "WorkOrderReopened": ("department", "description"),
    "WorkOrderCancelled": ("department", "reason"),
    "WorkOrderOverdue": ("department", "due {due_by}"),
    "ChangeAttached": ("department", "description"),
    "RequestReadyForHandover": ("round {handover_round}",),
    "DeliveryAccepted": ("satisfaction {satisfaction}/5", "feedback"),
    "DeliveryRejected": ("feedback",),
    "RelationshipStarted": ("account_manager",),
    "ClientTiered": ("tier", "every {review_every_days} d"),
    "HandoverBriefPrepared": ("to {account_manager}",),
    "FollowUpScheduled": ("kind", "on {due_on}"),
    "FollowUpRescheduled": ("to {due_on}", "reason"),
    "FollowUpClosed": ("reason",),
    "ContactRecorded": ("channel", "outcome", "note"),
    "ContactSuppressed": ("code", "reason"),
    "SatisfactionRecorded": ("{score}/5", "comment"),
    "OpportunityIdentified": ("title",),
    "OpportunityOffered": ("kind", "channel"),
    "OpportunityDeclined": ("kind", "reason"),
    "OpportunityWon": ("title",),
    "OpportunityOutcomeReviewed": ("delivered_value",),
    "ProgramEnrolled": ("name",),
    "ProgramCancelled": ("reason",),
    "RecoveryOpened": ("reason",),
    "RecoveryClosed": ("client_answer",),
}
LABEL_CHARS = 80


@dataclass(frozen=True)
class JourneyEvent:
    event_id: str
    event_type: str
    service: str  # lane: "intake" | "delivery" | "followup"
    occurred_at: datetime  # tz-aware
    causation_id: str | None = None
    label: str = ""  # short extra text for the box
    marks: frozenset[str] = frozenset()  # e.g. {"overdue"}, {"refused"}


class UndrawableItem(ValueError):
    """A record the picture cannot draw (no id, no type, no time): says which, and why."""


# --- from records to events -------------------------------------------------------------------------------------


def describe(event_type: str, payload: Mapping[str, Any] | None) -> tuple[str, frozenset[str]]:
    """The box's label and marks for an event of this type with this payload."""
    marks = frozenset({MARKS[event_type]}) if event_type in MARKS else frozenset()
    payload = payload if isinstance(payload, Mapping) else {}
    parts = []
    for part in LABELS.get(event_type, ()):
        if "{" not in part:
            value = payload.get(part)
            if value not in (None, "", [], {}):
                parts.append(str(value))
            continue
        names = re.findall(r"{(\w+)}", part)
        if all(payload.get(n) not in (None, "") for n in names):
            parts.append(part.format(**{n: payload[n] for n in names}))
    label = " · ".join(parts)
    return (label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"), marks


def lane_of(stream_or_service: str) -> str:
    """The lane of a stream name (``DELIVERY``) or a service name (``delivery``)."""
    return STREAM_LANES.get(stream_or_service, stream_or_service.lower())


def _moment(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UndrawableItem(f"{where}: occurred_at {value!r} is not an ISO 8601 time") from None
    else:
        raise UndrawableItem(f"{where}: occurred_at is missing")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Baton stores UTC


def journey_event(item: Mapping[str, Any], *, service: str | None = None, where: str = "event") -> JourneyEvent:
    """One event from a record shaped like an envelope (``event_id``, ``event_type``,
    ``occurred_at``, ``causation_id``, ``payload``) plus its ``stream``, or the ``service`` given."""
    for name in ("event_id", "event_type"):
        if not isinstance(item.get(name), str) or not item[name]:
            raise UndrawableItem(f"{where}: {name} is missing")
    lane = service or (lane_of(item["stream"]) if isinstance(item.get("stream"), str) else None)
    if not lane:
        raise UndrawableItem(f"{where}: stream is missing")
    label, marks = describe(item["event_type"], item.get("payload"))
    cause = item.get("causation_id")
    return JourneyEvent(
        event_id=item["event_id"],
        event_type=item["event_type"],
        service=lane,
        occurred_at=_moment(item.get("occurred_at"), where),
        causation_id=cause if isinstance(cause, str) and cause else None,
        label=label,
        marks=marks,
    )


def journey_from_timeline(items: Iterable[Mapping[str, Any]]) -> list[JourneyEvent]:
    """Events from intake's ``GET /v1/clients/{id}/timeline`` items (``stream``, ``event_id``,
    ``event_type``, ``occurred_at``, ``causation_id``, ``payload``…), in the order given."""
    return [journey_event(item, where=f"timeline item {n}") for n, item in enumerate(items)]


# --- layout -----------------------------------------------------------------------------------------------------

AXIS = 128  # the time column on the left
LANE = 330
BOX_X = 18  # the box's offset in its lane; the gutter on its right carries same-lane arrows and times
BOX_W = 236
BOX_H = 40
ROW = 52
TOP = 114  # title, legend and lane headers
TYPE_CHARS = 30  # what fits on a box's first line (12 px bold)
TEXT_CHARS = 38  # and on its second (11 px)
RUN_GAP_ROWS = 6  # a run goes on past at most this many boxes of other lanes: a box stays near its events' times


@dataclass
class Box:
    """One box of the picture: an event, or a run of the same event collapsed."""

    row: int
    lane: int
    events: list[JourneyEvent] = field(default_factory=list)

    @property
    def first(self) -> JourneyEvent:
        return self.events[0]

    @property
    def x(self) -> int:
        return AXIS + self.lane * LANE + BOX_X

    @property
    def y(self) -> int:
        return TOP + self.row * ROW


@dataclass
class Arrow:
    cause: Box
    effect: Box
    seconds: list[float]


def _in_time_order(events: Sequence[JourneyEvent]) -> list[JourneyEvent]:
    return [e for _, e in sorted(enumerate(events), key=lambda ne: (ne[1].occurred_at, ne[0]))]


def lay_out(events: Sequence[JourneyEvent], *, collapse: bool = True) -> tuple[list[str], list[Box], list[Arrow]]:
    """Lanes, boxes (one row each, in time order) and arrows from causes to effects."""
    ordered = _in_time_order(events)
    lanes = [lane for lane in LANES if any(e.service == lane for e in ordered)]
    lanes += list(dict.fromkeys(e.service for e in ordered if e.service not in LANES))
    lane_index = {lane: n for n, lane in enumerate(lanes)}
    boxes: list[Box] = []
    box_of: dict[str, Box] = {}
    open_run: dict[int, Box] = {}  # per lane, the box a same event may still join
    run_extended_at: dict[int, int] = {}  # and how many boxes there were when it last grew
    for event in ordered:
        lane = lane_index[event.service]
        run = open_run.get(lane)
        cause = box_of.get(event.causation_id) if event.causation_id else None
        if (
            collapse
            and run is not None
            and run.first.event_type == event.event_type
            and run.first.marks == event.marks
            and (cause is None or cause.row <= run.row)  # an arrow into the run never points up
            and len(boxes) - run_extended_at[lane] <= RUN_GAP_ROWS
        ):
            run.events.append(event)
            run_extended_at[lane] = len(boxes)
        else:
            run = Box(row=len(boxes), lane=lane, events=[event])
            boxes.append(run)
            open_run[lane] = run
            run_extended_at[lane] = len(boxes)
        box_of.setdefault(event.event_id, run)
    arrows: dict[tuple[int, int], Arrow] = {}
    for box in boxes:
        for event in box.events:
            cause = box_of.get(event.causation_id) if event.causation_id else None
            if cause is None or cause is box:
                continue
            cause_event = next(e for e in cause.events if e.event_id == event.causation_id)
            arrow = arrows.setdefault((cause.row, box.row), Arrow(cause, box, []))
            arrow.seconds.append((event.occurred_at - cause_event.occurred_at).total_seconds())
    return lanes, boxes, list(arrows.values())


# --- drawing ----------------------------------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_XML_SURROGATES = re.compile("[\ud800-\udfff]")


def text(value: object) -> str:
    """Text safe inside an element or a double-quoted attribute."""
    s = _NOT_XML_SURROGATES.sub("", _NOT_XML.sub("", str(value)))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _cut(s: str, chars: int) -> str:
    return s if len(s) <= chars else s[: chars - 1] + "…"


def duration(seconds: float) -> str:
    """``+120 ms``, ``+4.2 s``, ``+12 min``, ``+3 h 5 min``, ``+2 d 4 h``."""
    sign, s = ("+", seconds) if seconds >= 0 else ("−", -seconds)
    if s < 1:
        return f"{sign}{s * 1000:.0f} ms"
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        return f"{sign}{s / 60:.0f} min"
    if s < 86400:
        h, m = divmod(round(s / 60), 60)
        return f"{sign}{h} h {m} min" if m else f"{sign}{h} h"
    d, h = divmod(round(s / 3600), 24)
    return f"{sign}{d} d {h} h" if h else f"{sign}{d} d"


def _arrow_label(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return duration(seconds[0])
    low, high = min(seconds), max(seconds)
    span = duration(low) if duration(low) == duration(high) else f"{duration(low)}…{duration(high)[1:]}"
    return f"{len(seconds)}× {span}"


LANE_COLOURS = {
    "intake": ("#eef4fb", "#1f5f9e"),
    "delivery": ("#eef7ee", "#2e7d32"),
    "followup": ("#f5effa", "#6a3d9a"),
}
OTHER_LANE = ("#f3f3f3", "#555555")

CSS = """\
.bj text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;fill:#1b1b1b}
.bj .title{font-size:18px;font-weight:bold}
.bj .legend{font-size:12px;fill:#444}
.bj .lane-name{font-size:15px;font-weight:bold}
.bj .time{font-size:11px;fill:#555;font-family:'DejaVu Sans Mono',monospace}
.bj .day{font-size:11px;font-weight:bold;fill:#333}
.bj .day-line{stroke:#9a9a9a;stroke-dasharray:4 3}
.bj .row-line{stroke:#e4e4e4}
.bj .box rect.body{fill:#fff;stroke-width:1.2}
.bj .box .type{font-size:12px;font-weight:bold}
.bj .box .label{font-size:11px;fill:#333}
.bj .box.overdue rect.body{stroke:#c62828;stroke-width:2.5;fill:#fff4f4}
.bj .box.refused rect.body{stroke:#e65100;stroke-width:2.5;stroke-dasharray:6 3;fill:#fff8f0}
.bj .badge rect{fill:#555}
.bj .badge text{font-size:9px;font-weight:bold;fill:#fff;letter-spacing:.5px}
.bj .badge.overdue rect{fill:#c62828}
.bj .badge.refused rect{fill:#e65100}
.bj .count{font-size:11px;font-weight:bold;fill:#fff}
.bj .count-bg{fill:#37474f}
.bj .arrow{fill:none;stroke:#546e7a;stroke-width:1.3;stroke-opacity:.75}
.bj .arrow-time{font-size:10px;fill:#263238;paint-order:stroke;stroke:#fff;stroke-width:3px}
.bj .empty{font-size:14px;fill:#555}
"""


def _lane_colours(name: str) -> tuple[str, str]:
    return LANE_COLOURS.get(name, OTHER_LANE)


def _box_title(box: Box) -> str:
    lines = []
    for e in box.events[:25]:
        lines.append(f"{e.occurred_at.isoformat()} {e.event_type} {e.event_id}" + (f" — {e.label}" if e.label else ""))
    if len(box.events) > 25:
        lines.append(f"… and {len(box.events) - 25} more")
    return "\n".join(lines)


def _box_svg(box: Box, lanes: list[str]) -> str:
    first, n = box.first, len(box.events)
    marks = sorted(first.marks)
    colour = _lane_colours(lanes[box.lane])[1]
    if n == 1:
        second = first.label
    else:
        seconds = (box.events[-1].occurred_at - first.occurred_at).total_seconds()
        last = box.events[-1].label
        second = (f"{n} over {duration(seconds)[1:]}" if seconds >= 1 else f"{n} at once") + (
            f" · last: {last}" if last else ""
        )
    classes = " ".join(["box", *marks])
    ids = " ".join(e.event_id for e in box.events)
    x, y = box.x, box.y
    type_chars = TYPE_CHARS - (5 if n > 1 else 0) - 8 * len(marks)
    parts = [
        (
            f'<g class="{text(classes)}" id="box-{box.row}" data-lane="{text(lanes[box.lane])}" data-count="{n}" '
            f'data-event-type="{text(first.event_type)}" data-marks="{text(" ".join(marks))}" data-event-ids="{text(ids)}">'
        ),
        f"<title>{text(_box_title(box))}</title>",
        f'<rect class="body" x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" stroke="{colour}"/>',
        f'<rect x="{x}" y="{y}" width="5" height="{BOX_H}" rx="2" fill="{colour}"/>',
        f'<text class="type" x="{x + 11}" y="{y + 16}">{text(_cut(first.event_type, type_chars))}</text>',
    ]
    if second:
        parts.append(f'<text class="label" x="{x + 11}" y="{y + 32}">{text(_cut(second, TEXT_CHARS))}</text>')
    right = x + BOX_W - 4
    if n > 1:
        label = f"×{n}"
        width = 8 + 7 * len(label)
        right -= width
        parts.append(f'<rect class="count-bg" x="{right}" y="{y + 4}" width="{width}" height="16" rx="8"/>')
        parts.append(f'<text class="count" x="{right + width / 2}" y="{y + 16}" text-anchor="middle">{label}</text>')
        right -= 4
    for mark in marks:
        label = _cut(mark.upper(), 10)
        width = 10 + 7 * len(label)
        right -= width
        parts.append(
            f'<g class="badge {text(mark)}"><rect x="{right}" y="{y + 4}" width="{width}" height="15" rx="3"/>'
            f'<text x="{right + width / 2}" y="{y + 15}" text-anchor="middle">{text(label)}</text></g>'
        )
        right -= 4
    parts.append("</g>")
    return "".join(parts)


def _arrow_svg(arrow: Arrow, n: int) -> str:
    c, e = arrow.cause, arrow.effect
    cy, ey = c.y + BOX_H / 2, e.y + BOX_H / 2
    if c.lane == e.lane:  # out of the right edge into the gutter and back
        x = c.x + BOX_W
        bulge = 14 + min(abs(e.row - c.row), 12) * 5
        start, end = (x, cy), (x + 2, ey)
        path = f"M{start[0]},{start[1]} C{x + bulge},{cy} {x + bulge},{ey} {end[0]},{end[1]}"
        tx, ty, anchor = x + 6, ey - 5, "start"
    else:
        rightwards = e.lane > c.lane
        sx = c.x + BOX_W if rightwards else c.x
        ex = e.x - 2 if rightwards else e.x + BOX_W + 2
        bend = max(40, abs(ex - sx) / 2)
        c1 = sx + bend if rightwards else sx - bend
        c2 = ex - bend if rightwards else ex + bend
        path = f"M{sx},{cy} C{c1},{cy} {c2},{ey} {ex},{ey}"
        tx, ty, anchor = (ex - 4, ey - 6, "end") if rightwards else (ex + 4, ey - 6, "start")
    label = _arrow_label(arrow.seconds)
    return (
        f'<g class="link" data-from="box-{c.row}" data-to="box-{e.row}">'
        f'<path class="arrow" id="arrow-{n}" d="{path}" marker-end="url(#bj-head)"/>'
        f'<text class="arrow-time" x="{tx}" y="{ty}" text-anchor="{anchor}">{text(label)}</text></g>'
    )


LEGEND = (
    "Time runs down; one lane per service. Arrows go from a cause to what it caused, with the time between. "
    "×n: a run of the same event. Marked: OVERDUE work, REFUSED contacts."
)


def render_svg(events: Sequence[JourneyEvent], *, title: str = "", collapse: bool = True) -> str:
    """A standalone SVG document of the journey (``collapse=False`` draws every event in its own box)."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _svg(events, title=title, collapse=collapse)


def _svg(events: Sequence[JourneyEvent], *, title: str, collapse: bool) -> str:
    lanes, boxes, arrows = lay_out(events, collapse=collapse)
    width = AXIS + max(1, len(lanes)) * LANE + 10
    height = TOP + max(1, len(boxes)) * ROW + 20
    heading = title or "Journey"
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="bj" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="bj-title">'
        ),
        f'<title id="bj-title">{text(heading)}</title>',
        f"<style>{CSS}</style>",
        (
            '<defs><marker id="bj-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker></defs>'
        ),
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="12" y="26">{text(_cut(heading, 110))}</text>',
        f'<text class="legend" x="12" y="46">{text(LEGEND)}</text>',
        f'<text class="legend" x="12" y="62">{len(events)} events in {len(boxes)} boxes'
        + (f", {_first_last(events)}" if events else "")
        + "</text>",
    ]
    for n, lane in enumerate(lanes):
        fill, colour = _lane_colours(lane)
        x = AXIS + n * LANE
        out.append(
            f'<g class="lane" data-lane="{text(lane)}"><rect x="{x}" y="72" width="{LANE - 6}" height="{height - 82}" '
            f'fill="{fill}"/><text class="lane-name" x="{x + BOX_X}" y="92" fill="{colour}">{text(lane)}</text></g>'
        )
    if not boxes:
        out.append(f'<text class="empty" x="{AXIS + BOX_X}" y="{TOP + 24}">no events</text>')
    previous_day: date | None = None
    for box in boxes:  # the time of each row, and a line where a day begins
        moment = box.first.occurred_at.astimezone(UTC)
        y = box.y
        if moment.date() != previous_day:
            previous_day = moment.date()
            out.append(f'<line class="day-line" x1="4" x2="{width - 4}" y1="{y - 6}" y2="{y - 6}"/>')
            out.append(f'<text class="day" x="6" y="{y + 6}">{moment:%a %d %b %Y}</text>')
            out.append(f'<text class="time" x="6" y="{y + 22}">{moment:%H:%M:%S} UTC</text>')
        else:
            out.append(f'<line class="row-line" x1="4" x2="{AXIS - 8}" y1="{y - 6}" y2="{y - 6}"/>')
            out.append(f'<text class="time" x="6" y="{y + 14}">{moment:%H:%M:%S}</text>')
    out.extend(_arrow_svg(a, n) for n, a in enumerate(arrows))
    out.extend(_box_svg(b, lanes) for b in boxes)
    out.append("</svg>")
    return "\n".join(out)


def _first_last(events: Sequence[JourneyEvent]) -> str:
    first = min(e.occurred_at for e in events).astimezone(UTC)
    last = max(e.occurred_at for e in events).astimezone(UTC)
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"


PAGE_CSS = """\
body{margin:0;font-family:'DejaVu Sans',Verdana,Arial,sans-serif;background:#fafafa;color:#1b1b1b}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 12px;display:flex;gap:12px;align-items:center;z-index:1}
header h1{font-size:16px;margin:0;flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header button{font-size:15px;min-width:2.4em;padding:4px 8px}
main{overflow:auto;padding:8px}
main svg{display:block}
"""

PAGE_JS = """\
(function () {
  var svg = document.querySelector("main svg"), shown = document.getElementById("zoom-level");
  var w = svg.width.baseVal.value, h = svg.height.baseVal.value, zoom = 1;
  function set(z) {
    zoom = Math.min(4, Math.max(0.1, z));
    svg.setAttribute("width", Math.round(w * zoom));
    svg.setAttribute("height", Math.round(h * zoom));
    shown.textContent = Math.round(zoom * 100) + "%";
  }
  var actions = {
    "in": function () { set(zoom * 1.25); },
    "out": function () { set(zoom / 1.25); },
    "fit": function () { set((document.querySelector("main").clientWidth - 16) / w); },
    "reset": function () { set(1); }
  };
  document.querySelectorAll("button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", actions[b.getAttribute("data-zoom")]);
  });
  document.addEventListener("keydown", function (ev) {
    var act = {"+": "in", "=": "in", "-": "out", "0": "reset", "f": "fit"}[ev.key];
    if (act && !ev.ctrlKey && !ev.metaKey && !ev.altKey) { actions[act](); }
  });
})();
"""


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# Nothing may be fetched: only this page's own style and script (by hash) run.
CSP = (
    f"default-src 'none'; style-src {_csp_hash(PAGE_CSS)} {_csp_hash(CSS)}; script-src {_csp_hash(PAGE_JS)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def render_html(events: Sequence[JourneyEvent], *, title: str = "", collapse: bool = True) -> str:
    """A standalone page: the SVG inline, zoom controls (buttons, or + - 0 f keys), nothing from the network."""
    heading = title or "Journey"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(heading)}</title><style>{PAGE_CSS}</style></head>\n<body>"
        f'<header><h1>{text(heading)}</h1><span role="group" aria-label="zoom">'
        '<button type="button" data-zoom="out" aria-label="zoom out">−</button>'
        '<button type="button" data-zoom="reset" aria-label="actual size">100%</button>'
        '<button type="button" data-zoom="in" aria-label="zoom in">+</button>'
        '<button type="button" data-zoom="fit" aria-label="fit the width">fit</button></span>'
        '<output id="zoom-level" aria-live="polite">100%</output></header>\n'
        f"<main>{_svg(events, title=title, collapse=collapse)}</main>\n"
        f"<script>{PAGE_JS}</script></body></html>\n"
    )
