"""``/docs`` renders every operation in a real browser that can reach nothing but loopback.

Each service is served over HTTP by uvicorn on a free loopback port (its lifespan off:
the documentation needs neither NATS nor a database). Chromium runs headless with
every host name but 127.0.0.1 unresolvable and a dead proxy for anything else, so a
page that needs a CDN stays blank. With ``CI=true`` a missing browser fails the test.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from baton_shared.service.settings import BatonSettings

from tests.conftest import free_port, headless_chromium
from tests.integration.services import TEST_TOKENS


@pytest.fixture
def browser(tmp_path: Path):
    # Offline but for loopback: no name resolves but 127.0.0.1, and anything not on
    # loopback would go through a proxy that does not exist.
    chrome = headless_chromium(
        tmp_path / "chromium-profile",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        window="1280,1000",
    )
    try:
        yield chrome
    finally:
        chrome.quit()


def _apps(tmp_path: Path) -> dict:
    from baton_delivery.composition import create_app as create_delivery
    from baton_followup.composition import create_app as create_followup
    from baton_followup.settings import FollowupSettings
    from baton_intake.composition import create_app as create_intake

    def settings(cls, name: str):
        return cls(
            database_url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}",
            nats_url="nats://127.0.0.1:1",
            data_dir=tmp_path,
            log_level="WARNING",
            tokens=TEST_TOKENS,
        )

    return {
        "intake": create_intake(settings(BatonSettings, "intake")),
        "delivery": create_delivery(settings(BatonSettings, "delivery"), run_scheduler=False),
        "followup": create_followup(settings(FollowupSettings, "followup"), run_planner=False),
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The three services over HTTP on loopback: service -> base URL."""
    servers, threads, urls = [], [], {}
    for name, app in _apps(tmp_path).items():
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
        thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        urls[name] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not all(s.started for s in servers):
        assert time.monotonic() < deadline, "the services did not start listening"
        time.sleep(0.05)
    try:
        yield urls
    finally:
        for server in servers:
            server.should_exit = True
        for thread in threads:
            thread.join(15)


def _operations(openapi: dict) -> int:
    verbs = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(1 for item in openapi["paths"].values() for verb in item if verb in verbs)


def test_docs_render_every_operation_with_no_network(browser, served):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for name, base in served.items():
        openapi = httpx.get(f"{base}/openapi.json", timeout=10).json()
        expected = _operations(openapi)
        browser.get(f"{base}/docs")
        with contextlib.suppress(TimeoutException):  # said below, with what the page showed
            WebDriverWait(browser, 60, poll_frequency=0.2).until(
                lambda b: (
                    len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= expected  # noqa: B023 - used at once
                    or b.find_elements(By.CSS_SELECTOR, ".errors-wrapper")
                )
            )
        if len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) < expected:
            shown = browser.find_element(By.TAG_NAME, "body").text[:500]
            loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
            pytest.fail(f"{name}: /docs did not show its {expected} operations; body: {shown!r}; loaded: {loaded}")
        paths = {e.text.replace("\u200b", "") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert any(p.startswith("/v1/") for p in paths), paths
        assert browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper") == []  # Swagger UI read the document
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(f"{base}/") for url in loaded), loaded


def test_docs_assets_are_served_by_the_service(served):
    base = served["intake"]
    page = httpx.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert "https://" not in page.text and "http://" not in page.text  # every URL is the service's own
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        url = f"{base}/docs/assets/{asset}"
        assert f"/docs/assets/{asset}" in page.text
        answer = httpx.get(url, timeout=10)
        assert answer.status_code == 200 and kind in answer.headers["content-type"] and len(answer.content) > 10_000
    unknown = httpx.get(f"{base}/docs/assets/index.html", timeout=10)  # only what the page loads
    assert unknown.status_code == 404 and "no documentation asset" in unknown.json()["detail"]
    assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 200
