"""The journey picture (baton_shared.journey_picture): lanes, boxes in time order, arrows
from causes, marks, collapsed runs, escaping, and the page that needs no network."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from baton_shared.journey_picture import (
    JourneyEvent,
    journey_from_timeline,
    render_html,
    render_svg,
)

pytestmark = pytest.mark.unit
SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(event_id: str, event_type: str, service: str, seconds: float, cause: str | None = None, **kw) -> JourneyEvent:
    return JourneyEvent(event_id, event_type, service, at(seconds), cause, **kw)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())


def boxes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "box" in (g.get("class") or "").split()]


def links(root: ET.Element) -> list[tuple[str, str, str]]:
    """(cause box's event type, effect box's event type, time on the arrow)."""
    by_id = {g.get("id"): g.get("data-event-type") for g in boxes(root)}
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "link":
            out.append((by_id[g.get("data-from")], by_id[g.get("data-to")], g.find(f"{SVG}text").text))
    return out


def box_y(g: ET.Element) -> float:
    return float(g.find(f"{SVG}rect").get("y"))


def lane_x(root: ET.Element) -> dict[str, float]:
    return {
        g.get("data-lane"): float(g.find(f"{SVG}rect").get("x"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "lane"
    }


HANDOFF = [
    ev("c1", "ClientRegistered", "intake", 0, label="Acme"),
    ev("n1", "NeedCaptured", "intake", 60, label="a house"),
    ev("h1", "HandoffRequested", "intake", 120, "n1"),
    ev("w1", "WorkOrderOpened", "delivery", 120.25, "h1"),
    ev("r1", "RelationshipStarted", "followup", 1.5, "c1"),
    ev("o1", "WorkOrderOverdue", "delivery", 86400 * 3, "w1", marks=frozenset({"overdue"})),
    ev("s1", "ContactSuppressed", "followup", 86400 * 4, label="frequency_cap", marks=frozenset({"refused"})),
]


def test_one_lane_per_service_and_boxes_in_time_order():
    root = parse(render_svg(HANDOFF, title="Acme"))
    lanes = lane_x(root)
    assert list(lanes) == ["intake", "delivery", "followup"]
    drawn = boxes(root)
    assert [g.get("data-event-type") for g in drawn] == [
        "ClientRegistered",
        "RelationshipStarted",
        "NeedCaptured",
        "HandoffRequested",
        "WorkOrderOpened",
        "WorkOrderOverdue",
        "ContactSuppressed",
    ]  # sorted by time, whatever order they were given in
    ys = [box_y(g) for g in drawn]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # one row each: time runs down
    for g in drawn:  # each box sits in its service's lane
        x = float(g.find(f"{SVG}rect").get("x"))
        assert lanes[g.get("data-lane")] <= x < lanes[g.get("data-lane")] + 330
    assert root.find(f"{SVG}title").text == "Acme"


def test_arrows_go_from_cause_to_effect_with_the_time_between():
    root = parse(render_svg(HANDOFF))
    assert sorted(links(root)) == sorted(
        [
            ("ClientRegistered", "RelationshipStarted", "+1.5 s"),
            ("NeedCaptured", "HandoffRequested", "+1 min"),
            ("HandoffRequested", "WorkOrderOpened", "+250 ms"),
            ("WorkOrderOpened", "WorkOrderOverdue", "+3 d"),
        ]
    )
    # A cause outside the picture (an HTTP call's id) draws no arrow.
    alone = parse(render_svg([ev("x", "ClientNoteAdded", "intake", 0, "not-an-event")]))
    assert links(alone) == [] and len(boxes(alone)) == 1


def test_overdue_work_and_refused_contacts_are_marked():
    root = parse(render_svg(HANDOFF))
    marked = {g.get("data-event-type"): g for g in boxes(root) if g.get("data-marks")}
    assert set(marked) == {"WorkOrderOverdue", "ContactSuppressed"}
    assert "overdue" in marked["WorkOrderOverdue"].get("class").split()
    assert "refused" in marked["ContactSuppressed"].get("class").split()
    badges = {"".join(t.itertext()) for g in marked.values() for t in g.iter(f"{SVG}text")}
    assert {"OVERDUE", "REFUSED"} <= badges


def test_timeline_items_become_events_with_lanes_labels_and_marks():
    items = [  # the shape of intake's GET /v1/clients/{id}/timeline items
        {
            "client_id": "c1",
            "stream": "INTAKE",
            "seq": 1,
            "event_id": "e1",
            "event_type": "ClientRegistered",
            "aggregate_type": "client",
            "aggregate_id": "c1",
            "occurred_at": "2026-12-01T09:00:00+00:00",
            "actor": "alice",
            "correlation_id": "c1",
            "causation_id": "req-1",
            "payload": {"client_id": "c1", "name": "Acme"},
        },
        {
            "client_id": "c1",
            "stream": "DELIVERY",
            "seq": 7,
            "event_id": "e2",
            "event_type": "WorkOrderOverdue",
            "occurred_at": "2026-12-04T00:00:00",
            "causation_id": None,
            "payload": {"department": "design", "due_by": "2026-12-03"},
        },
        {
            "client_id": "c1",
            "stream": "FOLLOWUP",
            "seq": 3,
            "event_id": "e3",
            "event_type": "ContactSuppressed",
            "occurred_at": "2026-12-05T10:00:00+01:00",
            "causation_id": "e1",
            "payload": {"code": "frequency_cap", "reason": "4 contacts in 30 days"},
        },
    ]
    events = journey_from_timeline(items)
    assert [(e.service, e.event_type) for e in events] == [
        ("intake", "ClientRegistered"),
        ("delivery", "WorkOrderOverdue"),
        ("followup", "ContactSuppressed"),
    ]
    assert events[0].label == "Acme" and events[0].causation_id == "req-1"
    assert events[1].marks == {"overdue"} and events[1].label == "design · due 2026-12-03"
    assert events[1].occurred_at.tzinfo is not None  # a zone-less time is UTC, as Baton stores it
    assert events[2].marks == {"refused"} and events[2].label == "frequency_cap · 4 contacts in 30 days"
    with pytest.raises(ValueError, match="timeline item 0: occurred_at"):
        journey_from_timeline([{**items[0], "occurred_at": "yesterday"}])
    with pytest.raises(ValueError, match="event_id is missing"):
        journey_from_timeline([{k: v for k, v in items[0].items() if k != "event_id"}])


def test_user_text_never_becomes_markup():
    note = '<script>alert(1)</script></text></svg><img src=x onerror="alert(2)"> & \x01\x08 "quoted"'
    events = journey_from_timeline(
        [
            {
                "stream": "INTAKE",
                "event_id": 'e"1<',
                "event_type": "ClientNoteAdded",
                "occurred_at": "2026-12-01T09:00:00Z",
                "payload": {"text": note},
            },
            {
                "stream": "<lane>",
                "event_id": "e2",
                "event_type": "<b>Odd</b>",
                "occurred_at": "2026-12-01T09:01:00Z",
                "causation_id": 'e"1<',
                "payload": {},
            },
        ]
    )
    for document in (render_svg(events, title="<script>x</script>"), render_html(events, title="<i>t</i>")):
        assert "<script>alert" not in document and "<img" not in document and "<b>" not in document
        assert "<i>t" not in document and "<script>x" not in document
    root = parse(render_svg(events, title="<script>x</script>"))  # still well-formed XML
    assert [el.tag for el in root.iter() if el.tag.endswith(("script", "img", "foreignObject"))] == []
    texts = "".join(root.itertext())
    assert "<script>alert(1)</script>" in texts  # shown as the text it is
    assert links(root) == [("ClientNoteAdded", "<b>Odd</b>", "+1 min")]


def test_runs_of_the_same_event_collapse_into_one_box_with_a_count():
    events = [ev("c", "ClientRegistered", "intake", 0), ev("w", "WorkOrderOpened", "delivery", 1, "c")]
    events += [ev(f"p{n}", "WorkOrderProgressed", "delivery", 10 + n, label=f"{n}%") for n in range(40)]
    events += [ev("done", "WorkOrderCompleted", "delivery", 100, "p39")]
    root = parse(render_svg(events))
    drawn = boxes(root)
    assert [(g.get("data-event-type"), g.get("data-count")) for g in drawn] == [
        ("ClientRegistered", "1"),
        ("WorkOrderOpened", "1"),
        ("WorkOrderProgressed", "40"),
        ("WorkOrderCompleted", "1"),
    ]
    run = drawn[2]
    assert run.get("data-event-ids").split() == [f"p{n}" for n in range(40)]
    assert "×40" in "".join(run.itertext())
    assert ("WorkOrderProgressed", "WorkOrderCompleted", "+51.0 s") in links(root)  # from the run's last, p39
    every = parse(render_svg(events, collapse=False))
    assert len(boxes(every)) == 43


def test_a_run_breaks_where_collapsing_would_hide_order():
    events = [
        ev("a1", "ContactRecorded", "followup", 0),
        ev("n1", "ClientNoteAdded", "intake", 1),
        ev("a2", "ContactRecorded", "followup", 2, "n1"),  # caused by something drawn after the run began
        ev("a3", "ContactRecorded", "followup", 3),
        ev("o1", "WorkOrderOverdue", "delivery", 4, marks=frozenset({"overdue"})),
        ev("o2", "WorkOrderOverdue", "delivery", 5),  # other marks: not the same kind of box
    ]
    drawn = boxes(parse(render_svg(events)))
    assert [(g.get("data-event-type"), g.get("data-count")) for g in drawn] == [
        ("ContactRecorded", "1"),
        ("ClientNoteAdded", "1"),
        ("ContactRecorded", "2"),
        ("WorkOrderOverdue", "1"),
        ("WorkOrderOverdue", "1"),
    ]
    # Arrows never point up the page.
    root = parse(render_svg(events))
    ys = {g.get("id"): box_y(g) for g in boxes(root)}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "link":
            assert ys[g.get("data-from")] < ys[g.get("data-to")]


def test_three_hundred_events_stay_legible():
    events, n = [], 0
    for r in range(30):  # thirty requests, each handed off and worked through
        base = r * 3600.0
        events.append(ev(f"need{r}", "NeedCaptured", "intake", base))
        events.append(ev(f"hand{r}", "HandoffRequested", "intake", base + 60, f"need{r}"))
        events.append(ev(f"open{r}", "WorkOrderOpened", "delivery", base + 60.2, f"hand{r}"))
        for k in range(6):
            events.append(ev(f"prog{r}.{k}", "WorkOrderProgressed", "delivery", base + 600 + k * 60))
        events.append(ev(f"done{r}", "WorkOrderCompleted", "delivery", base + 1500))
        n += 10
    assert len(events) == 300
    root = parse(render_svg(events))
    drawn = boxes(root)
    assert sum(int(g.get("data-count")) for g in drawn) == 300
    assert len(drawn) == 150  # each request's six progress notes are one box
    assert float(root.get("width")) <= 1200  # fits a screen's width: scroll down, never sideways
    for g in drawn:  # no box text longer than the box holds
        for t in g.iter(f"{SVG}text"):
            assert len("".join(t.itertext())) <= 40


def test_the_page_fetches_nothing_and_zooms():
    page = render_html(HANDOFF, title="Acme")
    assert page.startswith("<!doctype html>") and "<svg" in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no URL of any kind to load
    assert 'data-zoom="in"' in page and 'data-zoom="out"' in page and 'data-zoom="fit"' in page


def test_no_events_is_a_picture_that_says_so():
    root = parse(render_svg([]))
    assert boxes(root) == [] and "no events" in "".join(root.itertext())


def test_the_interface_the_console_codes_against():
    import dataclasses
    import inspect

    fields = [(f.name, f.default) for f in dataclasses.fields(JourneyEvent)]
    assert fields == [
        ("event_id", dataclasses.MISSING),
        ("event_type", dataclasses.MISSING),
        ("service", dataclasses.MISSING),
        ("occurred_at", dataclasses.MISSING),
        ("causation_id", None),
        ("label", ""),
        ("marks", frozenset()),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        HANDOFF[0].label = "x"
    for render in (render_svg, render_html):
        assert inspect.signature(render).parameters["title"].kind is inspect.Parameter.KEYWORD_ONLY


def test_a_clients_contacts_never_reach_the_picture():
    item = {
        "stream": "INTAKE",
        "event_id": "e1",
        "event_type": "ClientRegistered",
        "occurred_at": "2026-12-01T09:00:00+00:00",
        "payload": {
            "name": "Acme",
            "contacts": [{"name": "Maria Rossi", "email": "maria@example.com", "phone": "+39 1"}],
        },
    }
    svg = render_svg(journey_from_timeline([item]))
    assert "Acme" in svg and "Maria" not in svg and "maria@example.com" not in svg
