"""``baton trace --svg/--html``: the journey picture drawn from a real journey on a real broker."""

import xml.etree.ElementTree as ET

import pytest

from tests.integration import test_ops_cli
from tests.integration.test_ops_cli import baton

pytestmark = pytest.mark.nats
SVG = "{http://www.w3.org/2000/svg}"
journey = test_ops_cli.journey  # the fixture: a client traced through intake and delivery


def test_trace_draws_the_journey_as_swimlanes(journey, tmp_path):
    ids, env = journey
    svg, html = tmp_path / "journey.svg", tmp_path / "journey.html"
    drawn = baton(env, "trace", ids["client"], "--svg", str(svg), "--html", str(html))
    assert drawn.exit_code == 0, drawn.output
    assert f"drew 7 events to {svg}" in drawn.stdout
    root = ET.parse(svg).getroot()
    lanes = [g.get("data-lane") for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert lanes == ["intake", "delivery"]
    boxes = {g.get("id"): g for g in root.iter(f"{SVG}g") if "box" in (g.get("class") or "").split()}
    types = [(g.get("data-lane"), g.get("data-event-type")) for g in boxes.values()]
    assert types[:5] == [
        ("intake", "ClientRegistered"),
        ("intake", "NeedCaptured"),
        ("intake", "HandoffRequested"),
        ("delivery", "WorkOrderOpened"),
        ("delivery", "WorkOrderAccepted"),
    ]
    # The broken message is drawn too, marked, where it was stored.
    unreadable = [g for g in boxes.values() if g.get("data-marks") == "unreadable"]
    assert [g.get("data-event-type") for g in unreadable] == ["UNREADABLE"]
    arrows = {
        (boxes[g.get("data-from")].get("data-event-type"), boxes[g.get("data-to")].get("data-event-type"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "link"
    }
    assert ("HandoffRequested", "WorkOrderOpened") in arrows  # delivery's reaction to intake's handoff
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "WorkOrderOpened" in page and 'data-zoom="in"' in page
    # The same picture for one journey (a request's correlation id), and a clear error for a bad path.
    assert baton(env, "trace", ids["request"], "--svg", str(tmp_path / "request.svg")).exit_code == 0
    assert "NeedCaptured" in (tmp_path / "request.svg").read_text()
    nowhere = baton(env, "trace", ids["client"], "--svg", str(tmp_path / "no" / "such" / "folder.svg"))
    assert nowhere.exit_code == 2 and "no folder" in nowhere.output
