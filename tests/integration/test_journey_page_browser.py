"""The journey page (``render_html``) in a real browser: its own style and script run under
its Content-Security-Policy, the zoom works, and nothing is fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baton_shared.journey_picture import JourneyEvent, render_html

from tests.integration import test_api_docs_offline

browser = test_api_docs_offline.browser  # the fixture: headless Chromium that reaches only loopback


def test_the_page_styles_zooms_and_fetches_nothing(browser, tmp_path):
    from selenium.webdriver.common.by import By

    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    events = [JourneyEvent("c", "ClientRegistered", "intake", t0, label="Acme")]
    events += [
        JourneyEvent(
            f"n{n}", "ClientNoteAdded", "intake", t0 + timedelta(minutes=n), label=f"<img src=x onerror=alert({n})>"
        )
        for n in range(1, 4)
    ]
    events += [
        JourneyEvent("s", "ContactSuppressed", "followup", t0 + timedelta(hours=1), "c", marks=frozenset({"refused"}))
    ]
    page = tmp_path / "journey.html"
    page.write_text(render_html(events, title="Acme"), encoding="utf-8")
    browser.get(page.as_uri())

    svg = browser.find_element(By.CSS_SELECTOR, "main svg")
    width = float(svg.get_attribute("width"))
    # The page's own style applies (the CSP allows it by hash)...
    refused = browser.find_element(By.CSS_SELECTOR, ".box.refused rect.body")
    assert refused.value_of_css_property("stroke-dasharray") not in ("", "none")
    assert browser.find_element(By.CSS_SELECTOR, "header").value_of_css_property("position") == "sticky"
    # ...and so does its script: the zoom buttons change the picture's size.
    browser.find_element(By.CSS_SELECTOR, 'button[data-zoom="in"]').click()
    assert float(svg.get_attribute("width")) == round(width * 1.25)
    assert browser.find_element(By.ID, "zoom-level").text == "125%"
    browser.find_element(By.CSS_SELECTOR, 'button[data-zoom="reset"]').click()
    assert float(svg.get_attribute("width")) == width
    # The notes' text is text: no element came of it, and nothing was fetched.
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]] == []
