"""Headless Chromium (Playwright) drives the dashboard and the tracking page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch
from tests.e2e.conftest import Stack
from tests.e2e.test_api_world import make_order, make_world, move, ok

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser.new_page(viewport={"width": 1440, "height": 960})
        finally:
            browser.close()


def _position(stack: Stack, engineer: str, lat: float, lon: float) -> None:
    stack.publish(f"fieldflow/engineers/{engineer}/location",
                  json.dumps({"ts": int(time.time() * 1000), "lat": lat, "lon": lon, "spd": 9}))


def test_dashboard_follows_the_live_feed_and_tracking_page(stack: Stack, page) -> None:  # type: ignore[no-untyped-def]
    w = make_world(stack, engineers=2, lat=52.37, lon=4.89)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w, priority="P1", title="Cold room alarm")
        make_order(api, w, priority="P3", title="Annual inspection")
        tracking = ok(api.post(f"/api/v1/work-orders/{order['id']}/tracking-token", json={}), 201)

    page.goto(stack.api_url + "/")
    page.fill("#token", stack.admin_token)
    page.click("#login-form button")
    page.wait_for_selector("#conn.on", timeout=15000)
    # e2e stacks run with FIELDFLOW_MAP_TILE_URL=none: the console draws the vector map.
    page.wait_for_selector("body[data-map=vector]", timeout=15000)
    assert "tiles off" in (page.text_content("#map-mode") or "")
    row = page.wait_for_selector(f"#order-{order['id']}", timeout=15000)
    assert row.get_attribute("data-status") == "new"

    marker = f"#eng-{eng}"
    _position(stack, eng, 52.36, 4.87)
    page.wait_for_selector(f'{marker}[data-lat="52.36"]', timeout=30000)
    before = page.get_attribute(marker, "transform")
    page.screenshot(path=str(ARTIFACTS / "dashboard-1-first-position.png"))
    # A big move, so the marker moves visibly however wide the map's extent is.
    _position(stack, eng, 53.36, 5.87)
    page.wait_for_selector(f'{marker}[data-lat="53.36"]', timeout=30000)
    assert page.get_attribute(marker, "transform") != before

    with stack.api() as api:
        ok(move(api, order["id"], "assigned", engineer_id=eng))
        ok(move(api, order["id"], "accepted"))
        ok(move(api, order["id"], "en_route"))
    page.wait_for_selector(f'#order-{order["id"]}[data-status="en_route"]', timeout=30000)
    page.wait_for_selector(f'{marker}[data-activity="en_route"]', timeout=10000)
    assert page.get_attribute(f"#order-{order['id']}", "data-status") == "en_route"
    assert int(page.text_content("#k-open") or 0) >= 2
    page.screenshot(path=str(ARTIFACTS / "dashboard-2-order-en-route.png"))

    track = page.context.browser.new_page()
    track.set_viewport_size({"width": 480, "height": 820})
    track.goto(stack.api_url + tracking["url"])
    track.wait_for_selector('#status[data-status="en_route"]', timeout=15000)
    assert "Cold room alarm" in (track.text_content("#title") or "")
    assert "Your engineer: Engineer" in (track.text_content("#engineer") or "")
    track.wait_for_selector("#engineer-dot", timeout=10000)
    track.screenshot(path=str(ARTIFACTS / "tracking-en-route.png"))

    # A token from the dashboard's storage is remembered: a reload needs no login.
    page.reload()
    page.wait_for_selector("#conn.on", timeout=15000)
    assert page.is_hidden("#login")
