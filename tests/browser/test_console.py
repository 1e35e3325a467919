"""Whole journeys through the console in headless chromium, against the embedded stack.

An account manager registers a client, captures a need and hands it to two departments;
each department's member accepts and completes; the account manager records the client's
verdict and sees the satisfaction check arrive on the agenda without reloading; a second
contact over the client's cap is refused on screen, in words. Also: another account
manager never sees the client (typed URL included), a form without its CSRF token is
refused, signing out ends the session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.nats, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
SOON = (date.today() + timedelta(days=20)).isoformat()


def eventually(check, timeout: float = 30, what: str = "condition", interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except Exception:  # noqa: BLE001 - the page is between two states; look again
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f}s")
        time.sleep(interval)


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def as_phone(driver, on: bool = True) -> None:
    """A 390 px wide phone screen (headless chromium's window cannot be made that narrow)."""
    if on:
        metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def fits_a_phone(driver) -> bool:
    """Nothing on the page is wider than a 390 px phone screen (pictures scroll in their own box)."""
    as_phone(driver)
    driver.refresh()
    try:
        return driver.execute_script("return document.documentElement.scrollWidth") <= 390
    finally:
        as_phone(driver, False)


def shoot(driver, stack, name: str, phone: bool = False) -> None:
    """The whole page (the window grows to the page's height for the shot)."""
    path = stack.screenshots / f"{name}.png"
    if phone:
        as_phone(driver)
        driver.refresh()
    else:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(max(height + 140, 600), 4000))
    driver.save_screenshot(str(path))
    if phone:
        as_phone(driver, False)
    driver.set_window_size(1280, 900)
    kept = ROOT / "var" / "screenshots"  # git-ignored; the README's pictures are chosen from here
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, kept / path.name)


def sign_in(driver, stack, who: str) -> None:
    driver.get(f"{stack.console}/signin")
    driver.find_element(By.ID, "token").send_keys(stack.tokens[who])
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    eventually(lambda: "/signin" not in driver.current_url, 15, f"{who} signed in")


def sign_out(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    eventually(lambda: driver.current_url.endswith("/signin"), 15, "signed out")


def fill(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def submit(driver, action: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"form[action='{action}'] button[type=submit]").click()


def reload_until(driver, words: str, timeout: float = 30) -> None:
    def seen() -> bool:
        if words in text(driver):
            return True
        driver.refresh()
        return False

    eventually(seen, timeout, f"{words!r} on {driver.current_url}", interval=0.5)


def test_a_client_from_registration_to_the_satisfaction_check(stack, browser):
    d = browser
    sign_in(d, stack, "alice")
    assert d.current_url.endswith("/agenda")
    d.find_element(By.LINK_TEXT, "My clients").click()
    d.find_element(By.LINK_TEXT, "Register a client").click()

    # A bad e-mail is answered beside its field, and nothing is registered.
    fill(d, "client-name", "Villa Rossi")
    fill(d, "client-annual_revenue", "20000000")
    fill(d, "client-contact_name", "Mario Rossi")
    fill(d, "client-contact_email", "mario@example.com")
    fill(d, "client-max_contacts_per_30_days", "1")
    Select(d.find_element(By.ID, "client-segment")).select_by_value("B2C")
    fill(d, "client-business_description", "Family building a house near Verona")
    submit(d, "/clients")
    eventually(lambda: "Client registered." in text(d), 15, "registration")
    client_url = d.current_url.split("?")[0]
    client_id = client_url.rsplit("/", 1)[1]
    assert "Villa Rossi" in text(d) and "Mario Rossi" in text(d)

    # A nuance, then a need, clarified and handed to two departments.
    fill(d, "note-text", "Never call before 10am")
    submit(d, f"/clients/{client_id}/notes")
    eventually(lambda: "Nuance recorded." in text(d) and "Never call before 10am" in text(d), 15, "nuance")
    fill(d, "need-summary", "Build a two-floor house")
    fill(d, "need-requirements", "floors: 2\nheating: heat pump")
    fill(d, "need-budget", "350000")
    submit(d, f"/clients/{client_id}/needs")
    eventually(lambda: "Need captured." in text(d), 15, "need")
    request_url = d.current_url.split("?")[0]
    request_id = request_url.rsplit("/", 1)[1]
    fill(d, "clarification-question", "Which roof?")
    fill(d, "clarification-answer", "Flat, with solar panels")
    submit(d, f"/requests/{request_id}/clarifications")
    eventually(lambda: "Flat, with solar panels" in text(d), 15, "clarification")
    for n, (department, scope) in enumerate((("design", "Plans and permits"), ("build", "Walls and roof"))):
        fill(d, f"handoff-department-{n}", department)
        fill(d, f"handoff-scope-{n}", scope)
        d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, f"handoff-due-{n}"), SOON)
    submit(d, f"/requests/{request_id}/handoffs")
    eventually(lambda: "Handed off to the departments." in text(d), 15, "handoff")
    reload_until(d, "Walls and roof")  # delivery opens the work orders from intake's events
    assert "Plans and permits" in text(d)
    shoot(d, stack, "request")
    sign_out(d)

    # Each department's member accepts and completes their work order.
    for who, scope in (("dora", "Plans and permits"), ("bert", "Walls and roof")):
        sign_in(d, stack, who)
        assert d.current_url.endswith("/board")
        reload_until(d, scope)
        if who == "dora":
            shoot(d, stack, "board")
        d.find_element(By.LINK_TEXT, scope).click()
        order = d.current_url.split("?")[0].rsplit("/", 1)[1]
        submit(d, f"/work-orders/{order}/accept")
        eventually(lambda: "Work order accepted." in text(d), 15, "accepted")
        submit(d, f"/work-orders/{order}/start")
        eventually(lambda: "Work started." in text(d), 15, "started")
        fill(d, "progress-note", "Half way")
        fill(d, "progress-percent", "50")
        submit(d, f"/work-orders/{order}/progress")
        eventually(lambda: "Progress noted." in text(d), 15, "progress")
        fill(d, "complete-note", "Done")
        submit(d, f"/work-orders/{order}/complete")
        eventually(lambda: "Work order completed." in text(d), 15, "completed")
        if who == "dora":
            shoot(d, stack, "work-order")
        sign_out(d)

    # The account manager records the client's verdict; the satisfaction check arrives on
    # the open agenda by itself (no reload).
    sign_in(d, stack, "alice")
    d.get(request_url)
    reload_until(d, "ready for handover")
    Select(d.find_element(By.ID, "verdict-accepted")).select_by_value("yes")
    Select(d.find_element(By.ID, "verdict-satisfaction")).select_by_value("5")
    fill(d, "verdict-feedback", "Lovely house")
    submit(d, f"/requests/{request_id}/verdict")
    eventually(lambda: "The client's verdict is recorded." in text(d), 15, "verdict")
    d.find_element(By.LINK_TEXT, "Agenda").click()
    d.execute_script("window.__same_page = true")
    eventually(lambda: "Satisfaction check" in text(d), 30, "the satisfaction check on the agenda")
    assert d.execute_script("return window.__same_page === true"), "the agenda was reloaded, not refreshed"
    assert "Villa Rossi" in text(d) and "May contact now." in text(d) and "key account" in text(d)
    shoot(d, stack, "agenda")
    shoot(d, stack, "agenda-phone", phone=True)
    assert fits_a_phone(d)

    # A contact from the agenda is recorded; it uses the client's one contact in 30 days.
    item = d.find_element(By.XPATH, "//li[contains(., 'Satisfaction check')]")
    item.find_element(By.TAG_NAME, "summary").click()
    item.find_element(By.CSS_SELECTOR, "select[name=outcome]").send_keys("Reached")
    item.find_element(By.CSS_SELECTOR, "input[name=note]").send_keys("Happy with the house")
    item.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    eventually(lambda: "Contact recorded." in text(d), 15, "contact recorded")

    # A second contact over the cap, from the client page: refused on screen, in words.
    d.get(client_url)
    reload_until(d, "Open follow-ups")
    article = d.find_element(By.CSS_SELECTOR, "article.followup")
    article.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    refusal = eventually(lambda: d.find_element(By.CSS_SELECTOR, "p.error[role=alert]").text, 15, "the refusal")
    assert "Not recorded." in refusal and "refuses this contact" in refusal and "30 days" in refusal, refusal
    d.execute_script("document.querySelector('article.followup').scrollIntoView()")
    d.save_screenshot(str(stack.screenshots / "refusal.png"))
    shutil.copy(stack.screenshots / "refusal.png", ROOT / "var" / "screenshots" / "refusal.png")
    reload_until(d, "Not now")  # the relationship says why not, too
    assert "build: completed" in text(d) and "design: completed" in text(d)  # each department's state
    d.execute_script("document.querySelector('.picture img').scrollIntoView()")
    eventually(
        lambda: d.execute_script("return document.querySelector('.picture img').naturalWidth") > 0,
        15,
        "the journey picture",
    )
    shoot(d, stack, "client")
    assert fits_a_phone(d)
    # The picture has every service's lane: intake's, delivery's and follow-up's events.
    d.get(f"{stack.console}/clients/{client_id}/journey.svg")
    for event_type in ("NeedCaptured", "WorkOrderCompleted", "DeliveryAccepted", "ContactSuppressed"):
        assert event_type in d.page_source, event_type
    d.get(client_url)

    # Bob, another account manager, never sees alice's client: not in his list, not by URL.
    sign_out(d)
    sign_in(d, stack, "bob")
    d.get(f"{stack.console}/clients")
    assert "Villa Rossi" not in text(d)
    d.get(client_url)
    assert "Villa Rossi" not in text(d) and "Not allowed" in text(d)
    d.get(request_url)
    assert "Build a two-floor house" not in text(d) and "Not allowed" in text(d)
    d.get(f"{stack.console}/clients/{client_id}/journey.svg")
    assert "Villa Rossi" not in d.page_source and "ClientRegistered" not in d.page_source


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(stack, browser):
    d = browser
    sign_in(d, stack, "alice")
    d.get(f"{stack.console}/clients/new")
    d.execute_script("document.querySelector(\"form[action='/clients'] input[name=csrf_token]\").remove()")
    fill(d, "client-name", "Forged Ltd")
    submit(d, "/clients")
    eventually(lambda: "did not come from your console session" in text(d), 15, "the refusal")
    d.get(f"{stack.console}/clients?q=forged")
    assert "Forged Ltd" not in text(d) and "No client matches" in text(d)
    # A token from another session does not pass either (the cookie, not the page, decides).
    d.get(f"{stack.console}/clients/new")
    d.execute_script(
        "document.querySelector(\"form[action='/clients'] input[name=csrf_token]\").value = 'x'.repeat(32)"
    )
    fill(d, "client-name", "Forged Again")
    submit(d, "/clients")
    eventually(lambda: "did not come from your console session" in text(d), 15, "the refusal")


def test_signing_out_ends_the_session_and_the_cookie_is_guarded(stack, browser):
    d = browser
    sign_in(d, stack, "alice")
    cookie = next(c for c in d.get_cookies() if c["name"] == "baton_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain http here
    assert stack.tokens["alice"] not in cookie["value"]  # sealed, not the token in the clear
    assert stack.tokens["alice"] not in d.current_url
    sign_out(d)
    d.get(f"{stack.console}/agenda")
    assert d.current_url.endswith("/signin")
    # The cookie of the ended session, replayed, no longer opens anything.
    request = urllib.request.Request(f"{stack.console}/agenda", headers={"Cookie": f"baton_session={cookie['value']}"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert answer.value.code == 303 and answer.value.headers["Location"] == "/signin"


def test_an_unknown_token_is_refused_in_words(stack, browser):
    d = browser
    d.get(f"{stack.console}/signin")
    d.find_element(By.ID, "token").send_keys("not-a-real-token-at-all")
    d.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    eventually(lambda: "This token is not known to Baton." in text(d), 15, "the refusal")
    assert "not-a-real-token" not in d.current_url


def test_a_form_sent_twice_is_recorded_once(stack):
    """The same form posted twice (a double click, a retry after a lost answer) carries the
    same Idempotency-Key: the services record it once."""

    def hidden(html: str, action: str) -> dict[str, str]:
        form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.DOTALL).group(0)
        return dict(re.findall(r'name="(csrf_token|idempotency_key)" value="([^"]+)"', form))

    with httpx.Client(base_url=stack.console, timeout=30) as c:
        page = c.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert c.post("/signin", data={"csrf_token": csrf, "token": stack.tokens["alice"]}).status_code == 303
        form = hidden(c.get("/clients/new").text, "/clients")
        body = {**form, "name": "Twice Ltd", "segment": "B2B"}
        first, second = c.post("/clients", data=body), c.post("/clients", data=body)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"].split("?")[0] == second.headers["location"].split("?")[0]
        client_page = first.headers["location"]
        note = hidden(c.get(client_page).text, client_page.split("?")[0] + "/notes")
        for _ in range(2):
            answer = c.post(client_page.split("?")[0] + "/notes", data={**note, "text": "Only once, please"})
            assert answer.status_code == 303
    alice = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    listed = httpx.get(f"{stack.intake}/v1/clients", params={"name": "Twice Ltd"}, headers=alice).json()
    assert listed["total"] == 1
    client = httpx.get(f"{stack.intake}/v1/clients/{listed['items'][0]['client_id']}", headers=alice).json()
    assert [n["text"] for n in client["notes"]] == ["Only once, please"], json.dumps(client["notes"])


def test_the_head_sees_every_client_and_the_escalations_and_ops_see_lag_and_journeys(stack, browser):
    d = browser
    admin = {"Authorization": f"Bearer {stack.tokens['admin']}"}
    made = httpx.post(
        f"{stack.intake}/v1/clients",
        headers=admin,
        json={"name": "Bob's Bakery", "segment": "B2B", "account_manager": "bob"},
    ).json()
    client_id = made["ids"]["client_id"]
    sign_in(d, stack, "head")
    assert d.current_url.split("?")[0].endswith("/clients")
    reload_until(d, "Bob's Bakery")
    assert "All clients" in text(d) and "Escalations" in text(d)
    sign_out(d)

    sign_in(d, stack, "ops")
    assert d.current_url.endswith("/ops")
    for projection in ("intake.clients", "delivery.work_orders", "followup.relationships"):
        assert projection in text(d)
    assert text(d).count("Parked events (0)") == 3 and "None: nothing was given up on." in text(d)
    shoot(d, stack, "ops")
    d.get(f"{stack.console}/journey?id={client_id}")
    assert "events." in text(d) and "ClientRegistered" in d.page_source
    d.get(f"{stack.console}/journey?id=00000000-0000-4000-8000-000000000000")
    assert "No client and no journey" in text(d)
    # One journey by its correlation id (a request's id), across intake and delivery.
    need = httpx.post(
        f"{stack.intake}/v1/clients/{client_id}/requests",
        headers=admin,
        json={"summary": "Wedding cake", "requirements": {"tiers": "3"}},
    ).json()
    request_id = need["ids"]["request_id"]
    httpx.post(
        f"{stack.intake}/v1/requests/{request_id}/handoffs",
        headers=admin,
        json={"work": [{"department": "design", "scope": "Sketch", "due_by": SOON}]},
    ).raise_for_status()
    d.get(f"{stack.console}/journey?id={request_id}")
    eventually(lambda: "WorkOrderOpened" in d.page_source or d.refresh(), 30, "delivery's lane of the journey")
    assert "NeedCaptured" in d.page_source and "ClientRegistered" not in d.page_source
    # Ops read; they cannot write through the console either (the API refuses, in words).
    d.get(f"{stack.console}/clients/{client_id}")
    assert "Bob's Bakery" in text(d)
    fill(d, "note-text", "ops trying to write")
    submit(d, f"/clients/{client_id}/notes")
    eventually(lambda: "may not" in text(d), 15, "the refusal")


def test_a_person_signs_in_and_records_a_nuance_with_the_keyboard_alone(stack, browser):
    from selenium.webdriver.common.keys import Keys

    d = browser
    alice = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    made = httpx.post(
        f"{stack.intake}/v1/clients",
        headers=alice,
        json={"name": "Keyboard Kft", "segment": "B2B", "account_manager": "alice"},
    ).json()
    d.get(f"{stack.console}/signin")
    d.switch_to.active_element.send_keys(stack.tokens["alice"], Keys.ENTER)  # the token field has the focus
    eventually(lambda: d.current_url.endswith("/agenda"), 15, "signed in")
    d.switch_to.active_element.send_keys(Keys.TAB)
    assert d.switch_to.active_element.text == "Skip to content"  # the first stop skips the navigation
    d.get(f"{stack.console}/clients/{made['ids']['client_id']}")
    textarea = d.find_element(By.ID, "note-text")
    assert d.find_element(By.CSS_SELECTOR, "label[for=note-text]").text == "A new nuance"
    textarea.send_keys("Prefers e-mail")
    textarea.send_keys(Keys.TAB)  # to the form's button
    d.switch_to.active_element.send_keys(Keys.ENTER)
    eventually(lambda: "Nuance recorded." in text(d) and "Prefers e-mail" in text(d), 15, "the nuance")
    unlabelled = d.execute_script(
        "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))"
        ".filter(e => !(e.id && document.querySelector(`label[for='${e.id}']`))).map(e => e.name)"
    )
    assert unlabelled == [], f"inputs without a label: {unlabelled}"


def test_an_account_manager_works_opportunities_programs_settings_and_cancels_from_the_pages(stack, browser):
    """Opportunities (no, yes, the outcome review), a program (enrol; notice refused inside its
    minimum term, in words), the client's revenue and contact policy, a request cancelled and
    the client handed to another account manager: each from its form on the page."""
    alice = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    dora = {"Authorization": f"Bearer {stack.tokens['dora']}"}
    with httpx.Client(timeout=30) as h:  # a delivered villa: follow-up identifies what usually comes next
        cid = h.post(
            f"{stack.intake}/v1/clients",
            headers=alice,
            json={"name": "Casa Verde", "segment": "B2C", "account_manager": "alice"},
        ).json()["ids"]["client_id"]
        rid = h.post(
            f"{stack.intake}/v1/clients/{cid}/requests", headers=alice, json={"summary": "A new villa"}
        ).json()["ids"]["request_id"]
        work = [{"department": "design", "scope": "Villa plans", "due_by": SOON}]
        wo = h.post(f"{stack.intake}/v1/requests/{rid}/handoffs", headers=alice, json={"work": work}).json()["ids"][
            "handoff_ids"
        ][0]
        eventually(lambda: h.get(f"{stack.delivery}/v1/work-orders/{wo}", headers=dora).status_code == 200, 30, "wo")
        for action, body in (("accept", {"member": "dora"}), ("start", {}), ("complete", {"note": "done"})):
            h.post(f"{stack.delivery}/v1/work-orders/{wo}/{action}", headers=dora, json=body).raise_for_status()
        eventually(
            lambda: (
                h.post(
                    f"{stack.delivery}/v1/requests/{rid}/acceptance", headers=alice, json={"accepted": True}
                ).status_code
                == 200
            ),
            30,
            "the acceptance",
        )
        eventually(
            lambda: (
                h.get(f"{stack.followup}/v1/opportunities", headers=alice, params={"client_id": cid}).json()["total"]
                >= 2
            ),
            30,
            "the opportunities",
        )
        other = h.post(f"{stack.intake}/v1/clients/{cid}/requests", headers=alice, json={"summary": "A pool"}).json()
    d = browser
    sign_in(d, stack, "alice")
    client_url = f"{stack.console}/clients/{cid}"
    d.get(client_url)

    def step(title: str, button: str, **fields: str) -> None:
        item = d.find_element(By.XPATH, f"//ul[@class='opportunities']/li[contains(., '{title}')]")
        item.find_element(By.TAG_NAME, "summary").click()
        form = item.find_element(By.XPATH, f".//form[.//button[normalize-space()='{button}']]")
        for name, value in fields.items():
            form.find_element(By.NAME, name).send_keys(value)
        form.find_element(By.TAG_NAME, "button").click()

    step("Garden and landscaping", "Offer it", note="Spring planting")
    eventually(lambda: "Offer recorded." in text(d), 15, "the offer")
    step("Garden and landscaping", "The client said no", reason="They will do it themselves")
    eventually(lambda: "The client's no is recorded" in text(d), 15, "the decline")
    assert "Garden and landscaping — declined" in text(d)
    step("Furnish the new house", "Offer it")
    eventually(lambda: "Offer recorded." in text(d) and "Furnish the new house — offered" in text(d), 15, "offer")
    step("Furnish the new house", "The client said yes", note="Two rooms first")
    eventually(lambda: "Won: intake opens a request for it." in text(d), 15, "the win")
    step("Furnish the new house", "Record the outcome", delivered_value="More than promised")
    eventually(lambda: "Outcome review recorded." in text(d), 15, "the outcome review")
    assert "Furnish the new house — reviewed" in text(d)

    d.find_element(By.XPATH, "//summary[normalize-space()='Enrol in a program']").click()
    fill(d, "enrol-name", "Villa care")
    submit(d, f"/clients/{cid}/programs")
    assert "revenue is unknown" in eventually(
        lambda: d.find_element(By.CSS_SELECTOR, "p.error#enrol-error").text, 15, "no revenue, no fee"
    )
    fill(d, "enrol-trailing_12_month_revenue", "1800000")
    submit(d, f"/clients/{cid}/programs")
    eventually(lambda: "Enrolled in the program." in text(d), 15, "the enrolment")
    reload_until(d, "Villa care — active")
    program = d.find_element(By.XPATH, "//ul[@class='programs']/li[contains(., 'Villa care')]")
    program.find_element(By.TAG_NAME, "summary").click()
    program.find_element(By.NAME, "reason").send_keys("Moving abroad")
    program.find_element(By.TAG_NAME, "button").click()
    refusal = eventually(lambda: d.find_element(By.CSS_SELECTOR, "ul.programs p.error").text, 15, "the refusal")
    assert "minimum term" in refusal, refusal  # inside the minimum term: refused, with the first possible day

    d.get(client_url)
    fill(d, "revenue-annual_revenue", "2500000")
    submit(d, f"/clients/{cid}/settings/revenue")
    eventually(lambda: "Annual revenue recorded." in text(d) and "2500000" in text(d), 15, "the revenue")
    fill(d, "contact-policy-max_contacts_per_30_days", "3")
    d.find_element(By.ID, "contact-policy-channel-email").click()
    submit(d, f"/clients/{cid}/settings/contact-policy")
    eventually(lambda: "Contact policy changed." in text(d), 15, "the policy")
    assert "at most 3 contacts in 30 days; only email" in text(d)

    d.get(f"{stack.console}/requests/{other['ids']['request_id']}")
    fill(d, "cancel-reason", "Budget went to the villa")
    submit(d, f"/requests/{other['ids']['request_id']}/cancel")
    eventually(lambda: "Request cancelled." in text(d), 15, "the cancellation")
    assert "cancelled" in d.find_element(By.CSS_SELECTOR, "h1 .status").text
    assert not d.find_elements(By.ID, "cancel-reason")  # nothing left to cancel

    d.get(client_url)
    fill(d, "account-manager-account_manager", "bob")
    fill(d, "account-manager-handover_note", "Prefers e-mail")
    submit(d, f"/clients/{cid}/settings/account-manager")
    eventually(lambda: "handed to the new account manager" in text(d), 15, "the handover")
    assert "Casa Verde" not in text(d)  # alice's list no longer has the client
    d.get(client_url)
    assert "Not allowed" in text(d)


def test_signing_out_on_one_console_ends_a_copied_session_on_another(stack, tmp_path):
    """Two console processes with one secret (two replicas behind a load balancer): a copied
    cookie opens both until its person signs out on either; then neither (within the check's
    period, 1 s here); a new sign-in works again."""
    port = free_port()
    second = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BATON_DATA_DIR": str(stack.data),
        "BATON_CONSOLE_HTTP_PORT": str(port),
        "BATON_CONSOLE_INTAKE_URL": stack.intake,
        "BATON_CONSOLE_DELIVERY_URL": stack.delivery,
        "BATON_CONSOLE_FOLLOWUP_URL": stack.followup,
        "BATON_CONSOLE_SIGN_OUT_CHECK_SECONDS": "1",
        "BATON_LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / "second-console.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "baton_console"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: httpx.get(f"{second}/signin").status_code == 200, 60, "the second console")

        def sign_in_to(client: httpx.Client) -> None:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text).group(1)
            assert client.post("/signin", data={"csrf_token": csrf, "token": stack.tokens["bert"]}).status_code == 303

        with httpx.Client(base_url=stack.console, timeout=30) as a, httpx.Client(base_url=second, timeout=30) as b:
            sign_in_to(a)
            b.cookies.set("baton_session", a.cookies["baton_session"])
            assert b.get("/board").status_code == 200  # the copied cookie opens the other replica
            page = a.get("/board").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            assert a.post("/signout", data={"csrf_token": csrf}).status_code == 303
            eventually(
                lambda: b.get("/board").headers.get("location") == "/signin", 15, "the session ended on the other"
            )
            b.cookies.clear()
            sign_in_to(b)  # signing in again after the sign-out works
            assert b.get("/board").status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_a_complaint_shows_on_its_request_and_on_the_client_page_open_then_resolved(stack, browser):
    d = browser
    alice = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    made = httpx.post(
        f"{stack.intake}/v1/clients",
        headers=alice,
        json={"name": "Complaining Oy", "segment": "B2B", "account_manager": "alice"},
    ).json()
    client_id = made["ids"]["client_id"]
    need = httpx.post(
        f"{stack.intake}/v1/clients/{client_id}/requests", headers=alice, json={"summary": "Shop window"}
    ).json()
    request_id = need["ids"]["request_id"]

    def opened():
        r = httpx.post(
            f"{stack.followup}/v1/clients/{client_id}/complaints",
            headers={**alice, "Idempotency-Key": f"complaint-{request_id}"},
            json={
                "category": "delay",
                "severity": "high",
                "description": "The window is two weeks late",
                "request_id": request_id,
            },
        )
        return r.json() if r.status_code == 201 else None  # follow-up learns of the client by itself

    complaint_id = eventually(opened, 30, "the complaint opened")["ids"]["complaint_id"]
    sign_in(d, stack, "alice")
    d.get(f"{stack.console}/requests/{request_id}")
    reload_until(d, "The window is two weeks late")
    assert "Complaints about this request" in text(d)
    d.get(f"{stack.console}/clients/{client_id}")
    reload_until(d, "The window is two weeks late")
    assert d.find_element(By.ID, f"complaint-{complaint_id}").text.lower().startswith("opened")
    for action, body in (
        ("acknowledge", {"response": "We are on it"}),
        ("resolve", {"resolution": "Fitted", "root_cause": "Glass supplier"}),
    ):
        httpx.post(
            f"{stack.followup}/v1/complaints/{complaint_id}/{action}",
            headers={**alice, "Idempotency-Key": f"{action}-{complaint_id}"},
            json=body,
        ).raise_for_status()
    d.get(f"{stack.console}/requests/{request_id}")
    reload_until(d, "Resolved: Fitted")
    assert "cause: Glass supplier" in text(d)


def test_the_head_reads_the_reports_and_everyone_sees_who_is_at_risk(stack, browser):
    d = browser
    alice = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    made = httpx.post(
        f"{stack.intake}/v1/clients",
        headers=alice,
        json={"name": "Unhappy GmbH", "segment": "B2B", "account_manager": "alice"},
    ).json()
    client_id = made["ids"]["client_id"]

    def rated():
        r = httpx.post(
            f"{stack.followup}/v1/clients/{client_id}/satisfaction",
            headers={**alice, "Idempotency-Key": f"rated-{client_id}"},
            json={"score": 1, "comment": "never again"},
        )
        return r.status_code == 201

    eventually(rated, 30, "the 1/5 recorded")
    sign_in(d, stack, "alice")
    d.find_element(By.LINK_TEXT, "At risk").click()
    reload_until(d, "Unhappy GmbH")
    item = d.find_element(By.ID, f"at-risk-{client_id}").text
    assert "health 35" in item and "recovery is open" in item, item
    assert "Reports" not in [a.text for a in d.find_elements(By.CSS_SELECTOR, "nav a")]
    sign_out(d)

    sign_in(d, stack, "head")
    d.find_element(By.LINK_TEXT, "At risk").click()
    reload_until(d, "Unhappy GmbH")
    assert "alice" in d.find_element(By.ID, f"at-risk-{client_id}").text
    d.find_element(By.LINK_TEXT, "Reports").click()
    Select(d.find_element(By.ID, "report-name")).select_by_value("portfolios")
    submit(d, "/reports")
    eventually(lambda: "computed" in text(d) and "Account managers' portfolios" in text(d), 15, "the portfolios")

    def alice_counted():  # the kept computation may predate her client: ask for it again
        d.find_element(By.ID, "compute-again").click()
        return "alice" in text(d)

    eventually(alice_counted, 15, "the portfolios computed again")
    headers = [th.text for th in d.find_elements(By.CSS_SELECTOR, "table.report th")]
    assert "recoveries open" in headers and "complaints open" in headers, headers
    shoot(d, stack, "reports")
    # Every row as CSV, through the console with the head's session.
    link = d.find_element(By.LINK_TEXT, "Every row as CSV").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in d.get_cookies()}
    answer = httpx.get(link, cookies=cookies)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0].startswith("account_manager,clients,key_accounts")
    # A bad period is said in words, and nothing is asked of the API.
    d.get(f"{stack.console}/reports?report=revenue&period=2026-13")
    assert "A period is a month" in text(d)


def test_a_person_turns_a_kind_of_e_mail_off_and_on_again(stack, browser):
    d = browser
    sign_in(d, stack, "dora")
    d.find_element(By.LINK_TEXT, "E-mail").click()
    kind = d.find_element(By.ID, "kind-work_order_opened")
    assert "A work order opens for your department: on" in kind.text, kind.text
    assert not d.find_elements(By.ID, "no-address")  # dora's token gives her address
    submit(d, "/notices/work_order_opened")
    eventually(lambda: "Your e-mail preferences are saved." in text(d), 15, "saved")
    assert "A work order opens for your department: off" in d.find_element(By.ID, "kind-work_order_opened").text
    shoot(d, stack, "notices")
    submit(d, "/notices/work_order_opened")
    eventually(lambda: "A work order opens for your department: on" in text(d), 15, "on again")
    sign_out(d)
    sign_in(d, stack, "bert")  # no address: told so, and what he would get is still his to set
    d.get(f"{stack.console}/notices")
    assert "Baton has no e-mail address for you" in text(d)
